// Behavioural model of the accelerator's on-chip memories (hw/chip/sram.py): NM and the
// weight buffers. In a real chip each is an SRAM macro; the emitted Verilog instantiates this
// module as a black box, so simulators read an array and synthesis sees the macro's ports.
//
// NR synchronous read ports: rdata[i] takes mem[raddr[i]] at a rising edge with ren[i] high and
// holds it otherwise. NW write ports with one enable per GRAN-bit slice (a lane): a rising edge
// writes the enabled slices of wdata[j] into mem[waddr[j]]. A read in the same cycle as a write
// to its address returns the old word. Addresses beyond DEPTH are ignored.
module dstripes_sram #(
    parameter WIDTH = 8,
    parameter DEPTH = 2,
    parameter ABITS = 1,
    parameter NR = 1,
    parameter NW = 1,
    parameter GRAN = 8
) (
    input wire clk,
    input wire [NR-1:0] ren,
    input wire [NR*ABITS-1:0] raddr,
    output reg [NR*WIDTH-1:0] rdata,
    input wire [NW*(WIDTH/GRAN)-1:0] wen,
    input wire [NW*ABITS-1:0] waddr,
    input wire [NW*WIDTH-1:0] wdata
);
    localparam SLICES = WIDTH / GRAN;
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    integer i, j, g;
    always @(posedge clk) begin
        for (i = 0; i < NR; i = i + 1)
            if (ren[i] && raddr[i*ABITS +: ABITS] < DEPTH)
                rdata[i*WIDTH +: WIDTH] <= mem[raddr[i*ABITS +: ABITS]];
        for (j = 0; j < NW; j = j + 1)
            if (waddr[j*ABITS +: ABITS] < DEPTH)
                for (g = 0; g < SLICES; g = g + 1)
                    if (wen[j*SLICES + g])
                        mem[waddr[j*ABITS +: ABITS]][g*GRAN +: GRAN] <= wdata[j*WIDTH + g*GRAN +: GRAN];
    end
endmodule
