"""The accelerator's hardware (``docs/design.md`` §10): ``T`` tiles of any kind of the registry
(lock-step or run-ahead) around NM, the weight buffers, the walker, the fetch unit, the writer
(with one reducer per tile) and the DMA."""
from .chip import Chip
from .dma import Dma
from .fetch import Fetch
from .sram import Sram
from .walker import Walker
from .reducer import Reducer, Requantiser
from .writer import Writer

__all__ = ["Chip", "Dma", "Fetch", "Sram", "Walker", "Reducer", "Requantiser", "Writer"]
