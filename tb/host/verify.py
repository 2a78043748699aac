"""A whole real network through a generated tile: the API under ``dstripes verify``.

For each selected layer of a network (conv layers, and fully-connected layers with one input
vector, which the tile runs with its round-robin dispatch, :func:`.runs.as_conv`: a bit-serial
tile without ``fc_dispatch`` runs them on the same tile with it, :func:`.runs.fc_tile`), its
quantised inputs on real photos are captured as
``dstripes evaluate`` captures them (:mod:`dstripes.sim.nets.evaluate`: the network's forward
pass, the profile's window and scale per layer input, :meth:`Quant.codes`; an int8 study's
profile, :func:`dstripes.sim.nets.int8_study.int8_profile`, quantises with its own per-tensor
``Quant`` or per-token ``TokenQuant``, so the tile runs the codes the study counts), its weights become
``W``-bit codes (:func:`dstripes.sim.fixed.weight_codes`), and every run of the layer goes
through the generated tile on the fast path (:mod:`.fast_path`): every photo, every
convolution group (a depthwise or grouped layer's groups are runs of their own), all windows,
the first or every filter-set. Each run is checked as the testbenches check it
(:mod:`dstripes.tb.verdict`): every result bit-exact against the golden model, the tile's cycle counter
equal to the harness's own count and to the model's RTL-exact count.

Layers are independent tasks on Dask (:mod:`dstripes.sim.nets.cluster`): local worker processes
by default, a cluster with ``scheduler``. Each worker builds the simulator model or reuses it
from the keyed build cache (:func:`dstripes.tb.host.runner.build`); locally, the model is built
once before the tasks start. Each layer's outcome is a :class:`LayerVerification`, the whole a
:class:`Verification`; their ``as_dict()`` is the JSON of ``dstripes verify``.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dstripes.hw.design import TileDesign
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic
from dstripes.sim.fixed import Window, weight_codes
from dstripes.sim.layer import Layer
from dstripes.sim.nets.cluster import dask_client, run_tasks
from dstripes.sim.nets.evaluate import STUDIES
from dstripes.sim.table import md_table
from dstripes.sim.tile_run import check_layer

from ..gateware.tile_harness import DEPTHS
from ..handoff import fields_as_dict
from .runner import build
from .runs import fc_tile, layer_runs
from .simulate import path_verilog, play
from .toolchain import missing_tools

FILTER_SETS = ("first", "all")
#: Seconds to wait for a named Dask scheduler before calling it unreachable.
SCHEDULER_TIMEOUT = 10.0
#: Photos captured per forward pass.
BATCH = 4


@dataclass
class LayerJob:
    """Everything a worker needs to verify one layer (sent to it whole)."""

    name: str
    layer: Layer
    window: Window
    codes: np.ndarray  # (N, C, H, W) activation codes inside ``window``
    weights: np.ndarray  # (K, C/groups, kh, kw) weight codes
    tile: TileDesign
    simulator: str
    filter_sets: str
    build_root: str | None = None


@dataclass(frozen=True)
class LayerVerification:
    """Every run of one layer through the tile (:func:`verify_layer`).

    Members
    -------
    name, layer : str
        The layer's name and shape.
    runs : int
    cycles_rtl, cycles_model, cycles_ideal : int
        Sums over the runs (:class:`~dstripes.tb.host.simulate.Play`).
    results_checked : int
        The layer's real results compared, all equal to the model's: every filter that exists
        (of the filter-sets run) at every window that exists, of every convolution group and
        photo, each once (with ``--filter-sets all``, ``K * Ho * Wo`` per photo); the padding
        rows of a partial filter-set and columns of a partial window-set are not counted
        (:attr:`dstripes.tb.host.simulate.Play.results_checked`).
    result_transfers : int
        The tile's result transfers compared (each ``Nc x Nr`` results, padding included).
    mismatches : int
        Result transfers that differed.
    wall_seconds, sim_seconds, cycles_per_second : float
    passed : bool
    checks : tuple of Check
    failure : str or None
    first_mismatch : dict or None
        Which photo (``image``), ``conv_group`` and ``filter_set``, with the harness's record.
    log : str or None
        The simulator log, kept when the layer failed.
    result_transfers : int
    fc : bool
        A fully-connected layer (run on :attr:`Verification.fc`).
    """

    name: str
    layer: str
    runs: int
    cycles_rtl: int
    cycles_model: int
    cycles_ideal: int
    results_checked: int
    mismatches: int
    wall_seconds: float
    sim_seconds: float
    cycles_per_second: float
    passed: bool
    checks: tuple = ()
    failure: str | None = None
    first_mismatch: dict | None = None
    log: str | None = None
    result_transfers: int = 0
    fc: bool = False

    def as_dict(self) -> dict:
        return fields_as_dict(self)


@dataclass(frozen=True)
class Totals:
    """Sums over the layers of a :class:`Verification`, and its times (seconds)."""

    cycles_rtl: int
    cycles_model: int
    cycles_ideal: int
    results_checked: int
    result_transfers: int
    mismatches: int
    runs: int
    layers: int
    sim_seconds: float
    wall_seconds: float
    build_seconds: float
    capture_seconds: float
    cycles_per_second: float

    def as_dict(self) -> dict:
        return fields_as_dict(self)


@dataclass
class Verification:
    """The outcome of :func:`verify_network` (see :meth:`as_dict`).

    Members
    -------
    network : str
    tile : TileDesign
    simulator : str
    images : list of str
        The photos' names.
    filter_sets : str
        ``"first"`` or ``"all"``.
    layers : list of LayerVerification
    fc : TileDesign or None
        The tile the fully-connected layers ran on (``None``: none was selected): ``tile``
        itself, or, when ``tile`` has no fully-connected dispatch, the same tile in lock-step
        with ``fc_dispatch`` on (:func:`.runs.fc_tile`).
    seconds : dict
        ``total``, ``build``, ``capture`` (what was measured).
    int8_study : str or None
        The codes that ran: ``"tensor"`` or ``"token"``, those of the int8 study
        (:mod:`dstripes.sim.nets.int8_study`) whose profile was given; ``None``: a precision
        profile's, or an int8 model's own.
    """

    network: str
    tile: TileDesign
    simulator: str
    images: list
    filter_sets: str
    layers: list
    fc: TileDesign | None = None
    seconds: dict = field(default_factory=dict)
    int8_study: str | None = None

    @property
    def passed(self) -> bool:
        return bool(self.layers) and all(l.passed for l in self.layers)

    @property
    def first_failure(self) -> LayerVerification | None:
        return next((l for l in self.layers if not l.passed), None)

    def total(self) -> Totals:
        sim = sum(l.sim_seconds for l in self.layers)
        rtl = sum(l.cycles_rtl for l in self.layers)
        return Totals(rtl, sum(l.cycles_model for l in self.layers), sum(l.cycles_ideal for l in self.layers),
                      sum(l.results_checked for l in self.layers), sum(l.result_transfers for l in self.layers),
                      sum(l.mismatches for l in self.layers),
                      sum(l.runs for l in self.layers), len(self.layers), round(sim, 2),
                      round(self.seconds.get("total", 0.0), 2), round(self.seconds.get("build", 0.0), 2),
                      round(self.seconds.get("capture", 0.0), 2), rtl / sim if sim else 0.0)

    @property
    def fc_switched(self) -> bool:
        return self.fc is not None and self.fc != self.tile

    def fc_layers(self) -> dict | None:
        """Which tile ran the fully-connected layers (``None``: none ran): ``layers`` (names),
        ``scheme``, ``config`` and ``switched`` (the FC-capable tile was chosen for them because
        the given tile has no fully-connected dispatch)."""
        if self.fc is None:
            return None
        return {"layers": [l.name for l in self.layers if l.fc], "scheme": self.fc.name,
                "config": self.fc.config.as_dict(), "switched": self.fc_switched}

    def as_dict(self) -> dict:
        first = self.first_failure
        return {
            "network": self.network,
            "scheme": self.tile.name,
            "sim": self.simulator,
            "images": len(self.images),
            "image_names": list(self.images),
            "filter_sets": self.filter_sets,
            "int8_study": self.int8_study,
            "config": self.tile.config.as_dict(),
            "layers": [l.as_dict() for l in self.layers],
            "fc_layers": self.fc_layers(),
            "total": self.total().as_dict(),
            "first_failure": None if first is None else {"layer": first.name, "failure": first.failure,
                                                         "first_mismatch": first.first_mismatch},
            "passed": self.passed,
        }


def verify_layer(job: LayerJob) -> LayerVerification:
    """Every run of one layer through the tile on the fast path (a Dask task)."""
    t0 = time.perf_counter()
    layer, tile = job.layer, job.tile
    designed = path_verilog(tile, "fast", job.build_root)
    sets = range(layer.filter_sets(tile.config.rows)) if job.filter_sets == "all" else range(1)
    runs, labels = [], []
    for i, image in enumerate(job.codes):
        for g in range(layer.conv_groups):
            rs = layer_runs(tile, layer, job.window, image, job.weights, filter_sets=tuple(sets), conv_group=g)
            runs += rs
            labels += [{"image": i, "conv_group": g, "filter_set": f} for f in sets]
    out = play(tile, job.simulator, runs, path="fast", designed=designed, build_root=job.build_root)
    first = out.first_mismatch
    if first is not None and first.get("run") is not None and first["run"] < len(labels):
        first = {**labels[first["run"]], **first}
    return LayerVerification(
        name=job.name, layer=layer.describe(), runs=len(runs), cycles_rtl=out.cycles_rtl,
        cycles_model=out.cycles_model, cycles_ideal=out.ideal, results_checked=out.results_checked,
        result_transfers=out.result_transfers, mismatches=out.mismatches, wall_seconds=round(time.perf_counter() - t0, 2),
        sim_seconds=round(out.sim_seconds, 2), cycles_per_second=out.cycles_per_second, passed=out.passed,
        checks=out.checks, failure=out.failure, first_mismatch=first, log=out.log, fc=layer.fc)


def select_layers(net, names: str | None) -> list[Layer]:
    """The layers named by ``names`` (``None`` or ``"all"``: every layer, conv and
    fully-connected)."""
    layers = net.layers()
    if names in (None, "all"):
        return list(layers)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise ConfigError("--layers must name at least one layer (or 'all')")
    by_name = {l.name: l for l in layers}
    for n in wanted:
        if n not in by_name:
            raise ConfigError(f"network {net.name} has no layer {n!r} (its layers: "
                              f"{', '.join(l.name for l in layers)})")
    return [l for l in layers if l.name in wanted]


def verify_network(net, profile, images, *, tile: TileDesign, simulator: str = "verilator",
                   layers: str | None = None, filter_sets: str = "first",
                   jobs: int | None = None, scheduler: str | None = None, build_root: str | None = None,
                   progress: bool = True, note=print) -> Verification:
    """Verify ``net``'s selected layers on ``images`` through ``tile`` (its fully-connected
    layers through :func:`.runs.fc_tile`, which says in one ``note`` when it is another tile).

    Bad input (unknown layer, a layer the accumulators cannot hold, a window wider than the
    activations, a missing simulator, an unreachable scheduler) raises :class:`ConfigError`
    before any simulation.
    """
    t0 = time.perf_counter()
    config = tile.config
    if filter_sets not in FILTER_SETS:
        raise ConfigError(f"filter sets must be one of {', '.join(FILTER_SETS)}, not {filter_sets!r}")
    if not images:
        raise ConfigError("verification needs at least one image")
    problem = missing_tools(simulator)
    if problem:
        raise ConfigError(problem)
    profile.check_network(net)
    chosen = select_layers(net, layers)
    fc = fc_tile(tile) if any(l.fc for l in chosen) else None
    on = {l.name: fc if l.fc else tile for l in chosen}
    bricks = DEPTHS["weight_depth"]
    for l in chosen:
        check_layer(l, on[l.name].config)
        if l.steps(config.lanes) > bricks:
            raise ConfigError(f"layer {l.name} has {l.steps(config.lanes)} steps per window-set, more than the "
                              f"{bricks} weight bricks the verification harness holds")
        profile.layer(l.name).check_fits(config.act_bits)
    if fc is not None and fc != tile:
        note(f"fully-connected layers ({', '.join(l.name for l in chosen if l.fc)}) run on the {fc.title} tile "
             f"with fc_dispatch{' in lock-step' if tile.config.run_ahead else ''}: the given tile has no "
             f"fully-connected dispatch")
    seconds = {}
    if scheduler is None:
        # one generation and one build per tile for all local workers (they reuse it from the cache)
        t = time.perf_counter()
        seconds["build"] = 0.0
        for design in dict.fromkeys(on.values()):
            note(f"generating and building the {design.title} tile{' with fc_dispatch' * design.config.fc_dispatch} "
                 f"in its verification harness for {simulator} (once; reused from "
                 f"{build_root or 'the build cache'} afterwards)")
            harness = path_verilog(design, "fast", build_root)
            seconds["build"] += build(harness.dut, simulator, build_root=build_root, optimise=True).seconds
        seconds["generate_and_build"] = time.perf_counter() - t
    with warnings.catch_warnings():
        # a busy default dashboard port only moves the local cluster's dashboard elsewhere
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        with dask_client(scheduler=scheduler, jobs=jobs, timeout=SCHEDULER_TIMEOUT) as client:
            t = time.perf_counter()
            jobs_ = layer_jobs(net, profile, images, chosen, on, simulator=simulator, filter_sets=filter_sets,
                               build_root=build_root, progress=progress)
            seconds["capture"] = time.perf_counter() - t
            results = [None] * len(jobs_)
            data = client.scatter(jobs_)  # the captured codes go to the workers as data, not in the task graph
            for i, r in run_tasks(client, verify_layer, data, desc=f"verify {net.name}", key="verify",
                                  progress=progress):
                results[i] = r
    seconds["total"] = time.perf_counter() - t0
    return Verification(net.name, tile, simulator, [n for n, _ in images], filter_sets, results,
                        fc, seconds, int8_study=STUDIES.get(profile.command))


def layer_jobs(net, profile, images, chosen: list[Layer], on: dict, *, simulator: str, filter_sets: str,
               build_root: str | None = None, progress: bool = True) -> list[LayerJob]:
    """The :class:`LayerJob` of every run of the ``chosen`` layers on ``images``: the codes the
    tile is fed, captured with ``profile`` (:func:`capture`) and paired with each layer's weights
    (:func:`layer_inputs`).

    Parameters
    ----------
    net : Network
    profile : Profile
        A precision profile, an int8 model's own (:func:`~dstripes.sim.nets.profile.model_profile`)
        or an int8 study's (:func:`~dstripes.sim.nets.int8_study.int8_profile`).
    images : list of (name, input)
    chosen : list of Layer
    on : dict
        Layer name -> the :class:`TileDesign` it runs on (its ``weight_bits`` are the weights').
    simulator, filter_sets, build_root
        As :func:`verify_network`.

    Returns
    -------
    list of LayerJob
    """
    codes = capture(net, profile, images, [l.name for l in chosen], progress=progress)
    return [LayerJob(name, l, profile.layer(l.name).window, acts, weights, on[l.name], simulator, filter_sets,
                     None if build_root is None else str(build_root))
            for l in chosen for name, acts, weights in layer_inputs(net, profile, l.name, images, codes[l.name],
                                                                    on[l.name].config.weight_bits)]


def layer_weights(net, profile, name: str, bits: int) -> np.ndarray:
    """A layer's integer weights: an int8 model's own codes ``w - zero_point`` (its profile is
    :func:`~dstripes.sim.nets.profile.model_profile`), else its float weights as ``bits``-bit codes
    (:func:`~dstripes.sim.fixed.weight_codes`)."""
    if profile.from_model:
        w, op = net.weight_codes(name)
        _fits(name, op, bits)
        return w
    return weight_codes(net.weights(name), bits)[0]


def _fits(name: str, op, bits: int) -> None:
    """Refuse an int8 model's weight codes (:class:`~dstripes.sim.nets.qdq.Operand`) wider than the tile's ``bits``."""
    if op.window().bits > bits:
        raise ConfigError(f"layer {name}: the model's {op.window().bits}-bit weight codes do not fit "
                          f"{bits}-bit weights")


def layer_inputs(net, profile, name: str, images, codes: np.ndarray, bits: int) -> list[tuple]:
    """``(job name, activation codes, weight codes)`` of each run of layer ``name``: one for all
    ``images`` when its weights are constant, else (a transformer's attention product) one per
    image with that input's own weights (:meth:`~dstripes.sim.nets.network.Network.input_weights`),
    named ``layer[image]`` when there are several."""
    if not net.weights_per_input(name):
        return [(name, codes, layer_weights(net, profile, name, bits))]
    batch = net.prepare([im for _, im in images])
    if profile.from_model:  # an int8 model's: each sentence's own codes q - zero_point
        ws, op = net.input_weight_codes(name, batch)
        _fits(name, op, bits)
    else:
        ws = [weight_codes(w, bits)[0] for w in net.input_weights(name, batch)]
    return [(name if len(images) == 1 else f"{name}[{n}]", codes[i:i + 1], ws[i])
            for i, (n, _) in enumerate(images)]


def capture(net, profile, images, names: list[str], progress: bool = True) -> dict:
    """``name -> (N, C, H, W)`` activation codes of the named layers' inputs on ``images``,
    quantised with the profile (as :func:`dstripes.sim.nets.evaluate.count_layer` does)."""
    quant = profile.quant()
    parts = {n: [] for n in names}
    chunks = [images[i:i + BATCH] for i in range(0, len(images), BATCH)]
    for chunk in tqdm(chunks, desc=f"capture {net.name}", unit="batch", disable=not progress or len(chunks) < 2):
        acts = net.forward(net.prepare([im for _, im in chunk]), capture=True).acts
        for n in names:
            parts[n].append(quant[n].codes(acts.pop(n)).astype(np.int32))
        del acts
    return {n: np.concatenate(p) for n, p in parts.items()}


LAYER_HEADERS = ["layer", "shape", "runs", "RTL cycles", "model RTL-exact", "model ideal", "results checked",
                 "result transfers", "mismatches", "wall s", "cycles/s"]
#: What the two counts of :data:`LAYER_HEADERS` mean (said under every table of them).
COUNTS_NOTE = ("results checked: the layers' real outputs, each compared once (padding rows of a partial "
               "filter-set and columns of a partial window-set not counted); result transfers: the tile's "
               "transfers compared, each the Nc x Nr results of one window-set (Nr of one window on the "
               "bit-parallel tile), padding included")


def fc_note(v: Verification) -> str:
    """One line: which tile ran the fully-connected layers of ``v`` (it has some)."""
    c = v.fc.config
    how = ("switched on for them: the given tile has no fully-connected dispatch" if v.fc_switched else
           "the given tile")
    return (f"fully-connected layers ({', '.join(v.fc_layers()['layers'])}) ran on the {v.fc.title} tile with "
            f"{'fc_dispatch' if c.fc_dispatch else 'its one-brick-per-cycle dispatch'} (run_ahead {c.run_ahead}; {how})")


def layer_rows(v: Verification) -> list[list]:
    """One row of :data:`LAYER_HEADERS` per layer."""
    return [[l.name, l.layer, l.runs, l.cycles_rtl, l.cycles_model, l.cycles_ideal, l.results_checked,
             l.result_transfers, l.mismatches, f"{l.wall_seconds:.1f}", f"{l.cycles_per_second:,.0f}"]
            for l in v.layers]


def write_reports(v: Verification, out: str | os.PathLike) -> list[Path]:
    """``verify.json``, ``report.md`` and ``layers.csv`` in ``out`` (each written whole)."""
    out = Path(out)
    d = v.as_dict()
    t = d["total"]
    files = []
    path = out / "verify.json"
    write_atomic(path, json.dumps(d, indent=1) + "\n")
    files.append(path)
    rows = layer_rows(v)
    csv = [",".join(h.replace(" ", "_").replace("/", "_per_") for h in LAYER_HEADERS)]
    csv += [",".join(str(x).replace(",", "") for x in r) for r in rows]
    path = out / "layers.csv"
    write_atomic(path, "\n".join(csv) + "\n")
    files.append(path)
    cfg = v.tile.config
    lines = [f"# RTL verification of {v.network} on the {v.tile.name} tile", "",
             f"* tile: {cfg.rows} rows x {cfg.columns} columns x {cfg.lanes} lanes, {cfg.act_bits}-bit activations, "
             f"{cfg.weight_bits}-bit weights; simulator: {v.simulator}, memory-backed harness (fast path)",
             f"* photos: {', '.join(v.images)}; filter-sets: {v.filter_sets}; every window, every convolution "
             f"group",
             *([f"* codes: the int8 study's, one scale per {v.int8_study} (A = W = 8; dstripes evaluate --int8 "
                f"{v.int8_study})"] if v.int8_study else []),
             "* checked per run: every result bit-exact against the golden model, the tile's cycle counter "
             "equal to the harness's own count and to the model's RTL-exact count",
             f"* {t['layers']} layers, {t['runs']} runs, {t['cycles_rtl']:,} RTL cycles, {t['results_checked']:,} "
             f"results checked (the layers' real outputs, each once), {t['result_transfers']:,} result transfers "
             f"compared ({v.tile.scheme.columns(cfg)} x {cfg.rows} results each, padding included), {t['mismatches']} mismatching "
             f"result transfers",
             f"* wall time {t['wall_seconds']:.0f} s (model build {t['build_seconds']:.0f} s, capture "
             f"{t['capture_seconds']:.0f} s); {t['cycles_per_second']:,.0f} simulated cycles per second of "
             f"simulation", ""]
    if v.fc is not None:
        lines += [f"* {fc_note(v)}", ""]
    lines += ["## Layers", "", md_table(LAYER_HEADERS, rows), "", f"{COUNTS_NOTE[0].upper()}{COUNTS_NOTE[1:]}.", ""]
    first = d["first_failure"]
    lines += ["## Verdict", "", "**PASSED**: every layer bit-exact and cycle-exact." if v.passed else
              f"**FAILED** at layer {first['layer']}: {first['failure']}" +
              (f"; first mismatch: {json.dumps(first['first_mismatch'])}" if first["first_mismatch"] else ""), ""]
    path = out / "report.md"
    write_atomic(path, "\n".join(lines))
    files.append(path)
    return files
