"""Golden numpy model of DaDN, Stripes and Dynamic Stripes.

==============  ==============================================================================
module          holds (each module imports only the ones above it)
==============  ==============================================================================
``errors``      the two kinds of failure (:class:`ConfigError`, ``ToolError``)
``checks``      checks of user-given integers and choices, one wording each
``limits``      size limits, checked before anything large is allocated
``files``       writing result files through a temporary name
``frozen``      read-only mappings for results read by name
``config``      the tile configuration (:class:`TileConfig`) and the accumulator width
``precision``   the run-time precision detection rule
``fixed``       activation codes, windows, quantisation
``layer``       layer shapes (:class:`Layer`)
``pallets``     the pallet stream of a layer, in the one documented order
``bricks``      what the cycle models read from each brick position
``tile_run``    the model of one tile run: step group bits, run cycles, layer checks
``schemes``     DaDN, Stripes and Dynamic Stripes (:class:`Scheme`), each's model of a run
``cycles``      a layer's and a network's cycles under every scheme, and two bounds
``functional``  exact integer results
``table``       text tables for the terminal and the reports
``samples``     the bundled real-activation samples
==============  ==============================================================================

The model core never imports :mod:`dstripes.hw` and never imports its own network front-end
layer :mod:`dstripes.sim.nets` (capture, photos, profiling, reports), which sits on top of it.
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
