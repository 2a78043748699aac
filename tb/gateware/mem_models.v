// Behavioural memory models of the verification harness (tb/gateware/tile_harness.py): simulation only,
// never synthesised. Amaranth generates every piece of logic of the harness; only these two
// models are written by hand, because they read and write files ($readmemh, $fwrite), which
// Amaranth cannot express. The testbench writes the files into the simulator's working folder
// (tb/memfile.py) and pulses `load` while the clock runs; see tb/bench/harness_bench.py.

// A read-only memory of 2**ABITS words of WIDTH bits, read combinationally. A word is stored as
// PARTS lines of LANE bits, low part first (Verilator parses a line in time quadratic in its
// width, so a 4096-bit pallet takes 64 short lines rather than one long one). `load[h]` at a
// rising edge reads FILE<h> into half h (h = 0: from word 0, h = 1: from word 2**(ABITS-1)); a
// memory loaded whole takes FILE0 with load[0] only. A ring memory is refilled half by half while
// the other half is read.
module dstripes_rom #(
    parameter WIDTH = 1,
    parameter ABITS = 1,
    parameter LANE = 1,
    parameter PARTS = 1,
    parameter FILE0 = "",
    parameter FILE1 = ""
) (
    input wire clk,
    input wire [1:0] load,
    input wire [ABITS-1:0] addr,
    output wire [WIDTH-1:0] data
);
`ifndef SYNTHESIS  // yosys reads the ports only (tb/host/icarus.py, Icarus netlists)
    reg [LANE-1:0] mem [0:(1 << ABITS) * PARTS - 1];
    wire [LANE*PARTS-1:0] word;
    genvar i;
    generate
        for (i = 0; i < PARTS; i = i + 1) begin : part
            assign word[i*LANE +: LANE] = mem[addr * PARTS + i];
        end
    endgenerate
    assign data = word[WIDTH-1:0];
    always @(posedge clk) begin
        if (load[0]) $readmemh(FILE0, mem, 0);
        if (load[1]) $readmemh(FILE1, mem, (1 << (ABITS - 1)) * PARTS);
    end
`endif
endmodule

// Appends `data` as one hexadecimal line to FILE at every rising edge with `we` high (flushed,
// so the testbench can read the file while the simulation runs).
module dstripes_log #(
    parameter WIDTH = 1,
    parameter FILE = ""
) (
    input wire clk,
    input wire we,
    input wire [WIDTH-1:0] data
);
`ifndef SYNTHESIS
    integer fd;
    initial fd = $fopen(FILE, "w");
    always @(posedge clk) begin
        if (we) begin
            $fwrite(fd, "%h\n", data);
            $fflush(fd);
        end
    end
`endif
endmodule
