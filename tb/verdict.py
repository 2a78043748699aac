"""The verdict of tile runs: what each run measured, what was checked, what passed and what was
not checked.

One definition for both testbenches (:mod:`dstripes.tb.bench.tile_bench`,
:mod:`dstripes.tb.bench.harness_bench`), which measure :class:`RunOutcome` objects, judge them
(:func:`runs_verdict`) and save a :class:`BenchReport`, and for the runner side
(:func:`dstripes.tb.host.simulate.play`, so ``dstripes simulate``, ``verify`` and the demo), which
reads the report back. A run passes when every check that applies passed; a check that does not
apply (the model's cycle count under random stalls, which the model does not count) is reported
as ``not checked``, never as passed.

Imported inside the simulator too, so it imports neither cocotb nor Amaranth.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .handoff import fields_as_dict

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not checked"
#: Key under which a testbench saves its :class:`BenchReport` (:func:`tb.handoff.save_result`).
REPORT_KEY = "tile_runs"


@dataclass(frozen=True)
class Check:
    """One check of a run: ``name``, ``status`` (passed / failed / not checked), ``detail``."""

    name: str
    status: str
    detail: str

    def as_dict(self) -> dict:
        return fields_as_dict(self)


@dataclass(frozen=True)
class Verdict:
    """The checks of one run (or of several, concatenated).

    Members
    -------
    checks : tuple of Check
    passed : bool
        At least one check passed and none failed.
    failures : list of str
        ``"<name>: <detail>"`` of every failed check.
    """

    checks: tuple

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status != FAILED for c in self.checks) and \
            any(c.status == PASSED for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if c.status == FAILED]

    def message(self) -> str:
        return "; ".join(self.failures)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "checks": [c.as_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Verdict":
        return cls(tuple(Check(c["name"], c["status"], c["detail"]) for c in d.get("checks", ())))

    def __add__(self, other: "Verdict") -> "Verdict":
        return Verdict(self.checks + other.checks)


@dataclass(frozen=True)
class RunOutcome:
    """What a testbench measured of one run.

    Members
    -------
    run : int
        Index of the run among those played.
    results, expected_results : int
        Result transfers seen, and expected.
    mismatches : int
        Result transfers that differ from the model.
    cycles : int or None
        The tile's cycle counter at the end of the run (``None``: undefined bits).
    tb_cycles : int
        The testbench's own count, from the edge the configuration was accepted to the edge of
        the run's last result transfer.
    expected_cycles : int
        The model's RTL-exact count (always-ready streams).
    inputs_left : mapping, optional
        Per-cycle testbench: ``{stream: transfers the tile never took}`` (empty if none).
    """

    run: int
    cycles: int | None
    tb_cycles: int
    expected_cycles: int
    results: int
    expected_results: int
    mismatches: int
    inputs_left: Mapping[str, int] | None = None

    def as_dict(self) -> dict:
        """The JSON form (``inputs_left``, already judged, is left out)."""
        out = fields_as_dict(self)
        del out["inputs_left"]
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunOutcome":
        return cls(**{k: d[k] for k in ("run", "cycles", "tb_cycles", "expected_cycles", "results",
                                         "expected_results", "mismatches")})


@dataclass(frozen=True)
class Interruption:
    """A reset in the middle of the first run: when (``at`` cycles into it), how many result
    transfers had come out, and how many of those differed from the model."""

    at: int
    results_before_reset: int
    mismatches: int

    def as_dict(self) -> dict:
        return fields_as_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "Interruption | None":
        return None if d is None else cls(d["at"], d["results_before_reset"], d["mismatches"])

    def verdict(self) -> Verdict:
        """A failed check if a result before the reset was wrong; no check otherwise."""
        if not self.mismatches:
            return Verdict(())
        return Verdict((Check("results before the reset", FAILED, f"{self.mismatches} differ from the model"),))


@dataclass(frozen=True)
class BenchReport:
    """What a testbench saves of a simulation (under :data:`REPORT_KEY`).

    Members
    -------
    runs : tuple of RunOutcome
    verdict : Verdict
        Every run's checks (:func:`runs_verdict`) and the testbench's own.
    interrupted : Interruption or None
    first_mismatch : dict or None
        The first result transfer that differed from the model: its ``index`` among all result
        transfers, ``got`` and ``expected`` (per-cycle testbench: the values; harness: hex words,
        with its ``batch``, ``run`` and ``window_set``).
    transfers : dict or None
        Harness: ``{stream: [transfers, expected transfers]}`` over all batches.
    sim_cycles : int or None
        Harness: simulated clock cycles of the batches.
    """

    runs: tuple
    verdict: Verdict
    interrupted: Interruption | None = None
    first_mismatch: dict | None = None
    transfers: dict | None = None
    sim_cycles: int | None = None

    def as_dict(self) -> dict:
        return {**fields_as_dict(self), "passed": self.verdict.passed}

    @classmethod
    def from_dict(cls, d: Mapping) -> "BenchReport":
        return cls(tuple(RunOutcome.from_dict(o) for o in d.get("runs") or ()), Verdict.from_dict(d["verdict"]),
                   Interruption.from_dict(d.get("interrupted")), d.get("first_mismatch"), d.get("transfers"),
                   d.get("sim_cycles"))


def run_verdict(outcome: RunOutcome, *, cycles_required: bool, label: str = "") -> Verdict:
    """The verdict of one run from what the testbench measured.

    Parameters
    ----------
    outcome : RunOutcome
    cycles_required : bool
        The streams were always ready, so the model's count applies.
    label : str
        Prefix of the check names (e.g. ``"run 2: "``).
    """
    o = outcome
    n, want, bad = o.results, o.expected_results, o.mismatches
    checks = [
        Check(f"{label}result transfers", PASSED if n == want else FAILED, f"{n} of {want}"),
        Check(f"{label}results bit-exact", PASSED if bad == 0 and n == want else FAILED,
              f"{bad} of {want} transfers differ from the model" if bad else f"{want} transfers equal the model"),
        Check(f"{label}cycle counter", PASSED if o.cycles == o.tb_cycles else FAILED,
              f"tile counted {o.cycles}, testbench {o.tb_cycles}"),
    ]
    if o.inputs_left is not None:
        checks.append(Check(f"{label}inputs taken", FAILED if o.inputs_left else PASSED,
                            ", ".join(f"{k} {s} transfers never taken" for s, k in o.inputs_left.items())
                            or "every config, act and weight transfer"))
    if cycles_required:
        checks.append(Check(f"{label}cycles exact", PASSED if o.cycles == o.expected_cycles else FAILED,
                            f"RTL {o.cycles}, model RTL-exact {o.expected_cycles}"))
    else:
        checks.append(Check(f"{label}cycles exact", NOT_CHECKED,
                            f"random idle/back-pressure: RTL {o.cycles}, the model's "
                            f"{o.expected_cycles} counts always-ready streams"))
    return Verdict(tuple(checks))


def runs_verdict(outcomes, *, cycles_required: bool) -> Verdict:
    """:func:`run_verdict` of every run, summed; check names carry ``"run i: "`` when there
    are several runs."""
    several = len(outcomes) > 1
    verdict = Verdict(())
    for o in outcomes:
        verdict = verdict + run_verdict(o, cycles_required=cycles_required, label=f"run {o.run}: " if several else "")
    return verdict


def merged(verdict: Verdict) -> Verdict:
    """One check per kind over several runs (checks named ``"run i: <name>"``): failed if any
    run's failed (with the first failure's detail), not checked if no run's was checked, passed
    otherwise (the detail says over how many runs). Checks of a single run are kept as they are."""
    groups: dict = {}
    for c in verdict.checks:
        head, sep, name = c.name.partition(": ")
        key = name if sep and head.startswith("run ") else c.name
        groups.setdefault(key, []).append(c)
    if all(len(g) == 1 for g in groups.values()):
        return Verdict(tuple(g[0] for g in groups.values()))
    out = []
    for name, g in groups.items():
        failed = [c for c in g if c.status == FAILED]
        if failed:
            more = f" (and {len(failed) - 1} more runs)" if len(failed) > 1 else ""
            out.append(Check(name, FAILED, f"{failed[0].name.partition(': ')[0]}: {failed[0].detail}{more}"))
        elif all(c.status == NOT_CHECKED for c in g):
            out.append(Check(name, NOT_CHECKED, f"{len(g)} runs; first: {g[0].detail}"))
        elif len(g) == 1:
            out.append(g[0])
        else:
            out.append(Check(name, PASSED, f"all {len(g)} runs"))
    return Verdict(tuple(out))
