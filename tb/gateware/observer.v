// The testbench's view of NM (tb/gateware/chip_harness.py): simulation only. At a rising edge
// with `fire` high it writes NM words `first` .. `last` to PREFIX<index>.hex ($writememh), the
// output of command `index` as it lies in NM, at no cycle of the chip's. The chip has no port for
// this: NM's array is reached by a hierarchical name, `DSTRIPES_NM (defined before this file by
// tb/host/chip_path.py, which finds NM's instance in the emitted Verilog).
module dstripes_observer #(
    parameter ABITS = 1,
    parameter PREFIX = ""
) (
    input wire clk,
    input wire fire,
    input wire [15:0] index,
    input wire [ABITS-1:0] first,
    input wire [ABITS-1:0] last
);
`ifndef SYNTHESIS
    reg [8*64-1:0] name;
    always @(posedge clk) begin
        if (fire) begin
            $sformat(name, "%0s%0d.hex", PREFIX, index);
            $writememh(name, `DSTRIPES_NM, first, last);
        end
    end
`endif
endmodule
