"""Amaranth 0.5 generators of the Dynamic Stripes (lock-step and run-ahead), Stripes and
bit-parallel tiles.

:data:`KINDS` (:mod:`.kinds`) is the registry of tile kinds; a :class:`TileDesign`
(:mod:`.design`) is one kind with its configuration, validated once: the object generation,
the testbenches, synthesis and the proofs take. :func:`write_verilog` emits one.
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
