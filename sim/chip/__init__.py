"""The accelerator's golden model (``docs/design.md`` §10): ``T`` tiles around an activation
memory, weight buffers and an off-chip port, walking whole convolutions from a layer descriptor.

Numpy only; never imports :mod:`dstripes.hw`.
"""
from .config import ChipConfig
from .descriptor import LayerDescriptor, check_descriptor, descriptor_fields
from .dram import DramConfig
from .model import ChipLayerRun, NmTraffic, layer_breakdown, model_layer
from .plan import LayerPlan, Pass
from .pool import ChipPoolRun, PoolDescriptor, model_pool
from .requant import requantize
from .timing import Breakdown, LayerTiming, PassWork, breakdown, layer_timing, pass_cycles

__all__ = ["ChipConfig", "LayerDescriptor", "check_descriptor", "descriptor_fields", "DramConfig",
           "ChipLayerRun", "NmTraffic", "layer_breakdown", "model_layer", "LayerPlan", "Pass", "ChipPoolRun",
           "PoolDescriptor", "model_pool", "requantize", "Breakdown",
           "LayerTiming", "PassWork", "breakdown", "layer_timing", "pass_cycles"]
