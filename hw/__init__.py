"""Amaranth 0.5 generators of the Dynamic Stripes (lock-step and run-ahead), Stripes and
bit-parallel tiles (``docs/design.md`` §6).

A map, from the command line down:

* :mod:`.design` — :class:`TileDesign`, one tile kind with its configuration, validated once:
  what generation, the testbenches, synthesis and the proofs take. Its latency, manifest and
  block list come from the tile's class; its ``component`` is built only to be elaborated.
* :mod:`.kinds` — :data:`KINDS`, the registry: per kind its model scheme, the tile class that
  implements a configuration, the parameters it uses and its stream payloads.
* Tiles: :mod:`.tile` (:class:`SerialTile`, lock-step Dynamic Stripes and Stripes),
  :mod:`.run_ahead` (:class:`RunAheadTile` and its dispatcher, weight selection, add stages),
  :mod:`.dadn` (:class:`ParallelTile`, :class:`InnerProduct`).
* Blocks: :mod:`.sip`, :mod:`.detector`, :mod:`.dispatcher`, :mod:`.input_register`,
  :mod:`.controller`, :mod:`.result_buffer`, :mod:`.tree` (balanced reduction trees).
* :mod:`.params` — what the blocks share, once: counter widths, mode codes, payload layouts,
  signature members, :class:`~.params.SynthBlock`. Configuration rules are
  :mod:`dstripes.sim.config`'s, which blocks call for the parameters they share with it.
* :mod:`.emit` — :func:`~.emit.to_verilog`, the one Verilog emitter; :mod:`.generate` —
  :func:`write_verilog` (``dstripes generate``).

To add a **block**: a ``wiring.Component`` whose ``__init__`` validates its parameters and makes
its signature, and whose ``elaborate`` makes its sub-blocks; a ``LATENCY`` class constant and
its latency and throughput in cycles in the docstring; its own tests in
``tests/test_hw_blocks.py``. If a tile holds it, the tile makes it in one static method used by
both ``elaborate`` and ``synth_blocks``. To add a **tile kind**: its scheme in
:mod:`dstripes.sim.schemes`, a tile class (``LATENCY``, ``tile_signature``, ``synth_blocks``,
see :class:`TileKind`) and one entry in :data:`KINDS`.
"""
from .sip import SIP
from .detector import PrecisionDetector
from .dispatcher import Dispatcher
from .controller import Controller
from .result_buffer import ResultBuffer
from .tile import SerialTile
from .run_ahead import RunAheadTile
from .dadn import InnerProduct, ParallelTile
from .kinds import KINDS, TileKind, kind
from .design import Manifest, TileDesign
from .generate import write_verilog

__all__ = ["SIP", "PrecisionDetector", "Dispatcher", "Controller", "ResultBuffer", "SerialTile", "RunAheadTile",
           "InnerProduct", "ParallelTile", "KINDS", "TileKind", "kind", "TileDesign", "Manifest",
           "write_verilog"]
