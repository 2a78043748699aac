"""cocotb verification of the generated tiles (see docs/design.md §8).

Runner side (pytest, the CLI): :mod:`tb.runner` (emit, build, run), :mod:`tb.tile_sim` (tile
runs from the golden model). Simulator side: :mod:`tb.streams` (clock/reset, stream drivers and
monitors), :mod:`tb.tile_tb` (the tile testbench). Both sides: :mod:`tb.payload` (payload
packing), :mod:`tb.harness` (parameters in, results out). Formal proofs with yosys ``sat``:
:mod:`tb.formal` (``docs/formal.md``). Importing :mod:`tb` imports nothing.
"""
