"""Amaranth 0.5 generators of the Dynamic Stripes, Stripes and bit-parallel tiles."""
from .sip import SIP
from .detector import PrecisionDetector
from .dispatcher import Dispatcher
from .controller import Controller
from .result_buffer import ResultBuffer
from .tile import SerialTile
from .dadn import InnerProduct, ParallelTile
from .generate import build_tile, manifest, write_verilog
from .synth_blocks import synth_blocks

__all__ = ["SIP", "PrecisionDetector", "Dispatcher", "Controller", "ResultBuffer", "SerialTile",
           "InnerProduct", "ParallelTile", "build_tile", "manifest", "write_verilog", "synth_blocks"]
