"""What every tile class shares: the configuration it is built for, and a description of itself
that needs no instance."""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from dstripes.sim.config import TileConfig

from .controller import Controller
from .params import COUNT_BITS, check_config, check_count_bits


class TileComponent(wiring.Component):
    """Base of the tile classes (:class:`hw.tile.SerialTile`, :class:`hw.run_ahead.RunAheadTile`,
    :class:`hw.dadn.ParallelTile`).

    A tile is built only where it is elaborated; everything else about it is read from its
    class (:class:`hw.design.TileDesign` does): :data:`LATENCY`, :meth:`tile_signature` (the
    ports) and the class method ``synth_blocks(config, *, count_bits, **options)`` (its distinct
    sub-blocks, see :class:`hw.params.SynthBlock`), which takes the constructor's arguments.
    Each distinct sub-block is made by one static method of the class, called by ``elaborate``
    and by ``synth_blocks`` alike.

    Parameters
    ----------
    config : sim.config.TileConfig
    count_bits : int
        Width of the step and window-set counters of a run.
    """

    #: Cycles a run takes beyond its cycle count in the model (always-ready streams): the sum of
    #: the ``LATENCY`` of the blocks a run passes through.
    LATENCY: int

    def __init__(self, config: TileConfig, *, count_bits: int = COUNT_BITS):
        self._cfg = check_config(config)
        self._count_bits = check_count_bits(count_bits)
        super().__init__(self.tile_signature(config, count_bits))

    tile_config = property(lambda self: self._cfg, doc="The configuration the tile is built for.")

    @staticmethod
    def tile_signature(config: TileConfig, count_bits: int = COUNT_BITS) -> wiring.Signature:
        """The tile's signature for ``config`` (no tile needed)."""
        raise NotImplementedError

    @staticmethod
    def _controller(c: TileConfig, count_bits: int) -> Controller:
        return Controller(act_bits=c.act_bits, count_bits=count_bits)

    def _control(self, m: Module) -> Controller:
        """The tile's controller, made, added to ``m`` and taking the ``config`` stream."""
        m.submodules.controller = ctrl = self._controller(self._cfg, self._count_bits)
        wiring.connect(m, wiring.flipped(self.config), ctrl.config)
        return ctrl
