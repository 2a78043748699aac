"""Amaranth 0.5 generators of the Dynamic Stripes (lock-step and run-ahead), Stripes and
bit-parallel tiles.

:data:`KINDS` (:mod:`.kinds`) is the registry of tile kinds; :func:`build_tile` and
:func:`write_verilog` build and emit one.
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
from .generate import build_tile, manifest, write_verilog

__all__ = ["SIP", "PrecisionDetector", "Dispatcher", "Controller", "ResultBuffer", "SerialTile", "RunAheadTile",
           "InnerProduct", "ParallelTile", "KINDS", "TileKind", "kind", "build_tile", "manifest",
           "write_verilog"]
