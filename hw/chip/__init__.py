"""The accelerator's hardware (``docs/design.md`` §10): ``T`` tiles of any kind of the registry
(lock-step or run-ahead) around NM, the weight buffers, the walker, the fetch unit, the writer
and the DMA."""
from .chip import Chip
from .dma import Dma
from .fetch import Fetch
from .sram import Sram
from .walker import Walker
from .writer import Requantiser, Writer

__all__ = ["Chip", "Dma", "Fetch", "Sram", "Walker", "Requantiser", "Writer"]
