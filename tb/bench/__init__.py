"""cocotb modules: imported by the simulator's Python, never by the runner side (which names
them, e.g. ``"dstripes.tb.bench.tile_bench"``). They import cocotb and the shared modules of
:mod:`dstripes.tb`, never Amaranth. See :mod:`dstripes.tb` for the map.
"""
