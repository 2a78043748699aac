"""Python outside the simulator: the Verilog a simulator compiles, the build cache, the
simulators and their workarounds, running cocotb modules, the runs derived from the golden model,
playing and judging them (``dstripes simulate``), whole networks (``dstripes verify``) and the
soak. See :mod:`dstripes.tb` for the map. Importing this package imports nothing.
"""
