"""What ``dstripes synth`` reports: the tiles, their performance per area against the
bit-parallel tile on a workload, and the Dynamic Stripes overhead over Stripes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from dstripes.sim.config import TileConfig
from dstripes.sim.schemes import DADN

from .perf_area import Overhead, PerfArea, dstripes_overhead, perf_per_area, select_workloads, total_cycles
from .tile import TileArea

#: What the clock figures are, printed with them.
TIMING_SCOPE = ("OpenSTA static timing of the mapped netlists: ideal clock, no wires (no "
                "placement), wires between blocks ideal, fan-out buffered by ABC; a tile is timed "
                "whole, across its block boundaries")


@dataclass(frozen=True)
class SynthReport:
    """The figures of one synthesis (:func:`synth_report`).

    Members
    -------
    tiles : mapping
        ``{kind: TileArea}``.
    config : TileConfig
        The configuration the tiles were made for.
    workloads : tuple of Workload
        The layers the speed-ups were counted on (empty without the bit-parallel tile).
    cycles : mapping or None
        ``{kind: cycles}`` summed over them.
    vs_dadn : mapping or None
        ``{kind: PerfArea}`` against the bit-parallel tile, when it is among the tiles.
    overhead : Overhead or None
        Dynamic Stripes over Stripes, when both are among the tiles.
    yosys : str
        The yosys version.
    liberty : str or None
        The user liberty, as the user named it.
    sta : str or None
        The OpenSTA version, when the tiles were timed.
    """

    tiles: Mapping[str, TileArea]
    config: TileConfig
    workloads: tuple
    cycles: Mapping[str, int] | None
    vs_dadn: Mapping[str, PerfArea] | None
    overhead: Overhead | None
    yosys: str
    liberty: str | None = None
    sta: str | None = None

    @property
    def timed(self) -> bool:
        """Whether some tile was timed."""
        return any(t.timing is not None for t in self.tiles.values())

    def as_dict(self) -> dict:
        """The JSON form (``dstripes synth --json``, ``synth.json``)."""
        tiles = {s: t.as_dict() for s, t in self.tiles.items()}
        if self.vs_dadn is not None:
            for s in tiles:
                tiles[s]["vs_dadn"] = self.vs_dadn[s].as_dict()
        d = {"tiles": tiles, "config": self.config.as_dict()}
        if self.vs_dadn is not None:
            d["workload"] = {"layers": [w.as_dict() for w in self.workloads], "cycles": dict(self.cycles)}
        if self.overhead is not None:
            d["dstripes_over_stripes"] = self.overhead.as_dict()
        if self.timed:
            d["timing_scope"] = TIMING_SCOPE
        d["yosys"] = self.yosys
        d["liberty"] = self.liberty
        if self.sta is not None:
            d["sta"] = self.sta
        return d


def synth_report(tiles: Mapping[str, TileArea], config: TileConfig, workloads=None, *, yosys: str,
                 liberty: str | None = None, sta: str | None = None) -> SynthReport:
    """The report of ``tiles`` synthesised for ``config``.

    Parameters
    ----------
    workloads : sequence of Workload, optional
        The layers of the performance-per-area figures, needed when the bit-parallel tile is
        among ``tiles`` (default :func:`synth.perf_area.select_workloads`).
    yosys, liberty, sta
        What the report names: the yosys version, the user liberty, the OpenSTA version.
    """
    works, cycles, vs_dadn = (), None, None
    if DADN.name in tiles:
        works = tuple(select_workloads(config) if workloads is None else workloads)
        cycles = total_cycles(works, config)
        vs_dadn = perf_per_area(tiles, cycles)
    return SynthReport(tiles, config, works, cycles, vs_dadn, dstripes_overhead(tiles), yosys, liberty, sta)
