// Behavioural off-chip memory of the accelerator's testbench (tb/gateware/chip_harness.py):
// simulation only. The testbench writes the memory image (one WIDTH-bit word per line,
// tb/memfile.py) and pulses `load`; after the commands it sets the range and pulses `dump`,
// which writes those words back to a file. Reads are combinational; a write lands at the edge.
module dstripes_ram #(
    parameter WIDTH = 8,
    parameter ABITS = 1,
    parameter FILE = "",
    parameter DUMP = ""
) (
    input wire clk,
    input wire load,
    input wire dump,
    input wire [ABITS-1:0] dump_first,
    input wire [ABITS-1:0] dump_last,
    input wire [ABITS-1:0] raddr,
    output wire [WIDTH-1:0] rdata,
    input wire we,
    input wire [ABITS-1:0] waddr,
    input wire [WIDTH-1:0] wdata
);
`ifndef SYNTHESIS
    reg [WIDTH-1:0] mem [0:(1 << ABITS) - 1];
    assign rdata = mem[raddr];
    always @(posedge clk) begin
        if (load) $readmemh(FILE, mem);
        if (dump) $writememh(DUMP, mem, dump_first, dump_last);
        if (we) mem[waddr] <= wdata;
    end
`endif
endmodule
