"""Synthesis with yosys 0.23 + ABC: per-block area (transistors, NAND2 gate equivalents, a user
liberty), logic depth, tile totals and performance per area. See ``synth/README.md``."""
