"""Whole-chip energy per layer and per network (``dstripes evaluate --chip --energy``,
``docs/design.md`` §10.8): the tiles' logic, every SRAM access, the macros' leakage and the
off-chip traffic.

For one layer on one scheme's chip, from the model's exact counts (cycles ``c`` and
:class:`~dstripes.sim.chip.model.Accesses`):

* logic: ``T × c × E_tile`` (:meth:`synth.energy.EnergyModel.energy_pj`, today's method:
  activity measured in RTL simulation, power from OpenSTA at the common clock);
* NM: ``(nm_reads + nm_residual_reads) × E_read + nm_writes × E_write`` of one brick-wide NM bank (its ``banks``
  macros, :mod:`synth.sram`);
* SB: ``sb_reads × E_read`` of a whole weight brick (every bank of the SB) and ``sb_fills ×
  E_beat`` (the banks one off-chip beat covers);
* the macros' leakage over the layer's cycles at the energy model's clock;
* off-chip: ``offchip_beats × L·A`` bits × :data:`DRAM_PJ_PER_BIT`.

Left out: the glue blocks' and the memories' decoder logic power, wires, the clock tree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from dstripes.sim.chip.model import Accesses
from dstripes.sim.errors import ConfigError
from dstripes.sim.schemes import DADN

from .energy import EnergyModel
from .sram import ChipMemories

#: Off-chip DRAM energy per bit read (pJ): 640 pJ for a 32-bit DRAM read (Horowitz, ISSCC 2014,
#: 45 nm; docs/references.md [HOR14]).
DRAM_PJ_PER_BIT = 640.0 / 32
DRAM_SOURCE = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", ISSCC 2014: "
               "32-bit DRAM read 640 pJ (docs/references.md)")
#: The parts of a layer's energy, in report order.
PARTS = ("logic", "nm_read", "nm_write", "sb_read", "sb_fill", "sram_leakage", "offchip")


def access_energy(acc: Accesses, memories: ChipMemories, *, cycles: int, clock_ns: float, brick_bits: int,
                  dram_pj_per_bit: float = DRAM_PJ_PER_BIT) -> dict:
    """``{part: pJ}`` of the memory parts of :data:`PARTS` for ``acc`` over ``cycles``."""
    nm, sb = memories.nm, memories.sb
    return {"nm_read": (acc.nm_reads + acc.nm_residual_reads) * nm.read_pj, "nm_write": acc.nm_writes * nm.word_write_pj,
            "sb_read": acc.sb_reads * sb.read_pj, "sb_fill": acc.sb_fills * sb.granule_write_pj,
            "sram_leakage": memories.leakage_w * cycles * clock_ns * 1e3,
            "offchip": acc.offchip_beats * brick_bits * dram_pj_per_bit}


@dataclass(frozen=True)
class ChipLayerEnergy:
    """One conv layer: ``{scheme: {part: pJ}}`` (:data:`PARTS`)."""

    name: str
    parts: Mapping[str, Mapping[str, float]]

    @property
    def energy_pj(self) -> dict:
        return {s: sum(p.values()) for s, p in self.parts.items()}

    def as_dict(self) -> dict:
        return {"name": self.name, "energy_pj": self.energy_pj, "parts_pj": {s: dict(p) for s, p in self.parts.items()}}


@dataclass(frozen=True)
class ChipNetworkEnergy:
    """A network's conv layers on the chip (:func:`chip_network_energy`)."""

    layers: tuple
    dram_pj_per_bit: float

    @property
    def parts(self) -> dict:
        """``{scheme: {part: pJ}}`` summed over the layers."""
        out = {}
        for l in self.layers:
            for s, p in l.parts.items():
                acc = out.setdefault(s, dict.fromkeys(PARTS, 0.0))
                for k, v in p.items():
                    acc[k] += v
        return out

    @property
    def energy_pj(self) -> dict:
        return {s: sum(p.values()) for s, p in self.parts.items()}

    @property
    def efficiency_over_dadn(self) -> dict:
        """``{scheme: E(dadn) / E(scheme)}``, whole chip."""
        e = self.energy_pj
        if DADN.name not in e:
            raise ConfigError("energy efficiency over DaDN needs the bit-parallel (dadn) chip")
        return {s: e[DADN.name] / v for s, v in e.items()}

    def as_dict(self) -> dict:
        return {"layers": [l.as_dict() for l in self.layers], "energy_pj": self.energy_pj,
                "parts_pj": self.parts, "energy_efficiency_over_dadn": self.efficiency_over_dadn,
                "dram_pj_per_bit": self.dram_pj_per_bit}


def chip_network_energy(model: EnergyModel, memories: ChipMemories, evaluation, *,
                        dram_pj_per_bit: float = DRAM_PJ_PER_BIT) -> ChipNetworkEnergy:
    """Energy of every conv layer of ``evaluation`` (a :class:`~dstripes.sim.nets.chip_eval.ChipEvaluation`)
    on each scheme's chip: the logic from ``model`` (its tiles; ``T`` of the evaluation's chip)
    and the memory parts (:func:`access_energy`).

    Raises
    ------
    ConfigError
        A scheme the energy model has no tile for, or a layer without access counts.
    """
    chip = evaluation.chip
    rows = []
    for l in evaluation.layers:
        parts = {}
        for s, b in l.counts.items():
            if s not in l.accesses:
                raise ConfigError(f"layer {l.name} has no access counts for {s}")
            p = {"logic": model.energy_pj(s, b.cycles, chip.tiles)}
            p.update(access_energy(l.accesses[s], memories, cycles=b.cycles, clock_ns=model.clock_ns,
                                   brick_bits=chip.brick_bits, dram_pj_per_bit=dram_pj_per_bit))
            parts[s] = p
        rows.append(ChipLayerEnergy(l.name, parts))
    return ChipNetworkEnergy(tuple(rows), dram_pj_per_bit)
