"""Golden numpy model of DaDN, Stripes and Dynamic Stripes.

The model core (the modules of this package) never imports :mod:`dstripes.hw` and never imports
its own network front-end layer :mod:`dstripes.sim.nets` (capture, photos, profiling, reports),
which sits on top of it.
"""
#: The distribution and top-level package name (also the command's name).
PACKAGE = __name__.partition(".")[0]

from .errors import ConfigError  # noqa: E402
from .config import TileConfig, accumulator_bits
from .fixed import Window, quantize, window_of
from .layer import Layer
from .pallets import pallets, weight_bricks
from .precision import group_bits, value_bits
from .tile_run import run_cycles, step_costs, step_group_bits
from .schemes import SCHEMES, Scheme, scheme
from .cycles import LayerCycles, NetworkCycles, layer_cycles, dadn_closed, stripes_closed
from .functional import conv_int, window_set_results

__all__ = [
    "ConfigError", "TileConfig", "accumulator_bits", "Window", "quantize", "window_of", "Layer",
    "pallets", "weight_bricks", "group_bits", "value_bits", "LayerCycles", "NetworkCycles",
    "layer_cycles", "step_costs", "step_group_bits", "run_cycles", "SCHEMES", "Scheme", "scheme",
    "dadn_closed", "stripes_closed", "conv_int", "window_set_results",
]
