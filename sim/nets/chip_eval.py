"""Whole networks on the accelerator's memory-aware model (``docs/design.md`` §10.6): per conv
layer, every scheme's cycles split into compute and stalls, the network's speed-ups *under
that memory system*, and sweeps of the NM read width.

Fully-connected layers are left out (the accelerator runs convolutions); NM and SB capacities
are not enforced here (the DaDianNao-style assumption that a layer's tensors and a pass's
weights are on chip); each layer's NM footprint is reported beside its counts.

An int8 QDQ model runs on its own codes (:func:`chip_inputs`) on an accelerator of 8-bit tiles
(``A = W = 8``): a layer whose codes ``q - zero_point`` fit ``A`` bits runs on them; a layer
whose zero point shifts them to 9 bits (``uint8`` with ``zp != 0``, asymmetric ``int8``) runs
on its raw 8-bit codes ``q``, as 8-bit hardware does: ``sum(q * w) - zp * sum(w)``, the second
term a constant per filter folded into the filter's bias (at the image border only the taps in
the image count; padding is code 0). Each layer's JSON ``codes`` says which reading ran.
"""
from __future__ import annotations

from dataclasses import astuple, dataclass, field, replace
import time

import numpy as np

from ..chip.config import ChipConfig
from ..chip.dram import DramConfig
from ..chip.model import layer_accesses, layer_breakdown
from ..chip.plan import LayerPlan
from ..chip.timing import Breakdown
from ..errors import ConfigError
from ..fixed import Window
from ..schemes import DADN, DSTRIPES, STRIPES
from .profile import Profile
from .qdq import ModelCodes
from .runs import Runner, as_photos, prepared

SCHEMES = (DADN.name, STRIPES.name, DSTRIPES.name)
#: NM stalls of at least this share of the compute cycles make a scheme memory-bound.
BOUND_SHARE = 0.01
#: The tile widths of the 8-bit accelerator an int8 model runs on (module docstring).
INT8_WIDTHS = {"act_bits": 8, "weight_bits": 8}


def capture_codes(net, profile: Profile, photos) -> dict:
    """``layer name -> (N, C, H, W)`` codes of every conv layer's input on ``photos``, quantised
    with ``profile`` (one forward pass per photo)."""
    photos = as_photos(photos)
    if not photos:
        raise ConfigError("the evaluation needs at least one photo")
    profile.check_network(net)
    quant = profile.quant()
    runner = Runner(net, client=None, progress=False)
    names = [l.name for l in net.layers() if not l.fc]
    parts = {n: [] for n in names}
    for p in photos:
        acts = net.forward(prepared(net, runner.netkey, [p]), capture=True).acts
        for n in names:
            parts[n].append(quant[n].codes(acts.pop(n)))
    return {n: np.concatenate(v) for n, v in parts.items()}


#: How a layer's codes reach the accelerator: a profile's codes, an int8 model's ``q - zero_point``,
#: or its raw codes ``q`` (the zero point's term folded into the bias).
READINGS = ("profile", "q - zero_point", "raw q")


@dataclass(frozen=True)
class ChipCodes:
    """How one conv layer's input codes are read on the accelerator.

    Members
    -------
    window : Window
        The window the accelerator counts the codes in.
    reading : str
        One of :data:`READINGS`.
    zero_point : int
        The model's activation zero point (0 for a profile).
    scale : float
        The codes' scale (the model's or the profile's).
    weight_bits : int or None
        The model's weight codes' width (``None`` for a profile: quantised to the tile's).
    """

    window: Window
    reading: str
    zero_point: int = 0
    scale: float = 1.0
    weight_bits: int | None = None

    def as_dict(self) -> dict:
        return {"source": "profile" if self.reading == READINGS[0] else "model", "reading": self.reading,
                "bits": self.window.bits, "signed": self.window.signed, "zero_point": self.zero_point,
                "scale": self.scale}


def chip_inputs(profile: Profile, codes: dict, act_bits: int, weight_bits: int) -> tuple[dict, dict]:
    """``(readings, codes)``: every layer of ``codes`` (:func:`capture_codes`) as an accelerator
    of ``act_bits``-bit activations and ``weight_bits``-bit weights reads it (``readings``: layer
    name -> :class:`ChipCodes`; ``codes``: the codes it runs on).

    A profile's layer keeps its window. An int8 model's layer (:class:`.qdq.ModelCodes`) runs on
    ``q - zero_point`` when that window fits ``act_bits``, else on its raw codes ``q`` (module
    docstring).

    Raises
    ------
    ConfigError
        A model's layer whose codes (even the raw ones) or weights do not fit the widths, naming
        the layer.
    """
    quants = profile.quant()
    readings, out = {}, {}
    for name, a in codes.items():
        q = quants[name]
        if not isinstance(q, ModelCodes):
            readings[name], out[name] = ChipCodes(q.window, READINGS[0], 0, float(q.scale)), a
            continue
        wbits = int(q.weights["bits"])
        if wbits > weight_bits:
            raise ConfigError(f"layer {name}: the model's weight codes need {wbits} bits, the accelerator's "
                              f"tiles have {weight_bits} (--weight-bits)")
        if q.window.msb + 1 <= act_bits:
            readings[name], out[name] = ChipCodes(q.window, READINGS[1], q.zero_point, float(q.scale), wbits), a
        elif q.raw_window.msb + 1 <= act_bits:
            readings[name] = ChipCodes(q.raw_window, READINGS[2], q.zero_point, float(q.scale), wbits)
            out[name] = q.raw(a)
        else:
            raise ConfigError(f"layer {name}: the model's {q.dtype} codes need {q.raw_window.msb + 1} bits, the "
                              f"accelerator's tiles have {act_bits} (--act-bits)")
    return readings, out


def _add(a: Breakdown, b: Breakdown) -> Breakdown:
    return Breakdown(*(x + y for x, y in zip(astuple(a), astuple(b))))


ZERO = Breakdown(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True)
class ChipLayer:
    """One conv layer on the accelerator, summed over the photos.

    Members
    -------
    counts : dict
        ``scheme -> Breakdown``.
    nm_kib : float
        NM its input and output need (16-bit codes as stored).
    accesses : dict
        ``scheme -> Accesses``: every NM, SB and off-chip access (``sim.chip.model.layer_accesses``).
    codes : ChipCodes or None
        How its input codes were read (:func:`chip_inputs`); JSON ``codes``.
    """

    name: str
    description: str
    bits: int
    macs: int
    counts: dict
    nm_kib: float
    accesses: dict = field(default_factory=dict)
    codes: ChipCodes | None = None

    def as_dict(self) -> dict:
        d = {"name": self.name, "layer": self.description, "precision": self.bits, "macs": self.macs,
             "nm_kib": self.nm_kib, **{s: b.as_dict() for s, b in self.counts.items()},
             "accesses": {s: a.as_dict() for s, a in self.accesses.items()},
             "speedup": speedups({s: b.cycles for s, b in self.counts.items()})}
        if self.codes is not None:
            d["codes"] = self.codes.as_dict()
        return d


def speedups(cycles: dict) -> dict:
    d, s, ds = (cycles.get(k) for k in SCHEMES)
    r = lambda a, b: float(a / b) if a and b else None  # noqa: E731
    return {"stripes_over_dadn": r(d, s), "dstripes_over_stripes": r(s, ds), "dstripes_over_dadn": r(d, ds)}


@dataclass(frozen=True)
class ChipEvaluation:
    """A network's conv layers on one accelerator and memory system."""

    network: str
    chip: ChipConfig
    dram: DramConfig | None
    photos: int
    layers: tuple
    skipped: tuple
    seconds: float

    def totals(self) -> dict:
        out = {s: ZERO for s in SCHEMES}
        for l in self.layers:
            for s, b in l.counts.items():
                out[s] = _add(out[s], b)
        return out

    def speedups(self) -> dict:
        return speedups({s: b.cycles for s, b in self.totals().items()})

    def compute_speedups(self) -> dict:
        """The same speed-ups with an ideal memory system (compute cycles only)."""
        return speedups({s: b.compute for s, b in self.totals().items()})

    def as_dict(self) -> dict:
        return {"network": self.network, "chip": self.chip.as_dict(),
                "dram": self.dram.as_dict() if self.dram else None, "photos": self.photos,
                "layers": [l.as_dict() for l in self.layers], "skipped_fc": list(self.skipped),
                "total": {s: b.as_dict() for s, b in self.totals().items()},
                "speedup": self.speedups(), "speedup_ideal_memory": self.compute_speedups(),
                "seconds": self.seconds}


def evaluate_chip(net_layers, windows: dict, codes: dict, chip: ChipConfig, dram: DramConfig | None = None, *,
                  network: str = "", schemes=SCHEMES) -> ChipEvaluation:
    """Every conv layer of ``net_layers`` (``Layer`` objects) on the accelerator ``chip`` (its
    ``scheme`` is replaced by each of ``schemes``), weights from ``dram`` (``None``: in SB).

    ``windows``: layer name -> :class:`Window`, or -> :class:`ChipCodes` (:func:`chip_inputs`:
    reported per layer); ``codes``: layer name -> ``(N, C, H, W)`` codes.
    """
    t0 = time.perf_counter()
    chips = {s: replace(chip, scheme=s) for s in schemes}
    out, skipped = [], []
    for layer in net_layers:
        if layer.fc:
            skipped.append(layer.name)
            continue
        reading = windows[layer.name] if isinstance(windows[layer.name], ChipCodes) else None
        window = reading.window if reading is not None else windows[layer.name]
        a = window.check(codes[layer.name], chip.tile.act_bits)
        counts, accesses = {}, {}
        for s, c in chips.items():
            plan = LayerPlan(layer, c)
            mode = c.tile.trim if c.kind.detects else "static"
            total = ZERO
            for img in a:
                costs = plan.step_costs(img, window, mode, checked=True)
                total = _add(total, layer_breakdown(plan, costs, dram))
            counts[s] = total
            accesses[s] = layer_accesses(plan, offchip=dram is not None).times(len(a))
        t = chip.tile
        nm = (-(-layer.c // t.lanes) * layer.h * layer.w + -(-layer.k // t.lanes) * layer.oh * layer.ow) \
            * chip.brick_bits / 8192
        out.append(ChipLayer(layer.name, layer.describe(), window.bits, layer.macs * len(a), counts, nm, accesses,
                             reading))
    return ChipEvaluation(network, chip, dram, int(next(iter(codes.values())).shape[0]) if codes else 0,
                          tuple(out), tuple(skipped), time.perf_counter() - t0)


def memory_bound(evaluations: dict) -> dict:
    """``scheme -> the largest swept nm_read at which its NM stalls reach BOUND_SHARE of its compute
    cycles`` (``None``: never), from ``{nm_read: ChipEvaluation}``."""
    out = {}
    for s in SCHEMES:
        bound = None
        for b, ev in sorted(evaluations.items()):
            t = ev.totals()[s]
            if t.compute and t.nm_stall >= BOUND_SHARE * t.compute:
                bound = b
        out[s] = bound
    return out
