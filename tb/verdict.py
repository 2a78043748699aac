"""The verdict of a tile run: what was checked, what passed, and what was not checked.

One definition, used by the cocotb testbench (which fails the test on it), by
:func:`dstripes.tb.simulate.simulate_layer` and so by ``dstripes simulate`` and the demo, which
print it. A run passes when every check that applies passed; a check that does not apply (the
model's cycle count under random stalls, which the model does not count) is reported as
``not checked``, never as passed.

Imported inside the simulator too, so it must not import cocotb.
"""
from __future__ import annotations

from dataclasses import dataclass

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not checked"


@dataclass(frozen=True)
class Check:
    """One check of a run: ``name``, ``status`` (passed / failed / not checked), ``detail``."""

    name: str
    status: str
    detail: str

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Verdict:
    """The checks of one run (or of several, concatenated)."""

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
    def from_dict(cls, d: dict) -> "Verdict":
        return cls(tuple(Check(c["name"], c["status"], c["detail"]) for c in d.get("checks", ())))

    def __add__(self, other: "Verdict") -> "Verdict":
        return Verdict(self.checks + other.checks)


def run_verdict(outcome: dict, *, cycles_required: bool, label: str = "") -> Verdict:
    """The verdict of one run from what the testbench measured.

    Parameters
    ----------
    outcome : dict
        ``results`` / ``expected_results`` (result transfers seen / expected), ``mismatches``
        (transfers that differ from the model), ``cycles`` (the tile's counter), ``tb_cycles``
        (the testbench's own count of the run), ``expected_cycles`` (the model's RTL-exact count),
        optionally ``inputs_left`` (stream -> transfers the tile never took).
    cycles_required : bool
        The streams were always ready, so the model's count applies.
    label : str
        Prefix of the check names (e.g. ``"run 2 "``).
    """
    n, want = outcome["results"], outcome["expected_results"]
    bad = outcome["mismatches"]
    checks = [
        Check(f"{label}result transfers", PASSED if n == want else FAILED, f"{n} of {want}"),
        Check(f"{label}results bit-exact", PASSED if bad == 0 and n == want else FAILED,
              f"{bad} of {want} transfers differ from the model" if bad else f"{want} transfers equal the model"),
        Check(f"{label}cycle counter", PASSED if outcome["cycles"] == outcome["tb_cycles"] else FAILED,
              f"tile counted {outcome['cycles']}, testbench {outcome['tb_cycles']}"),
    ]
    if "inputs_left" in outcome:
        left = outcome["inputs_left"]
        checks.append(Check(f"{label}inputs taken", FAILED if left else PASSED,
                            ", ".join(f"{n} {s} transfers never taken" for s, n in left.items())
                            or "every config, act and weight transfer"))
    model = outcome["expected_cycles"]
    if cycles_required:
        checks.append(Check(f"{label}cycles exact", PASSED if outcome["cycles"] == model else FAILED,
                            f"RTL {outcome['cycles']}, model RTL-exact {model}"))
    else:
        checks.append(Check(f"{label}cycles exact", NOT_CHECKED,
                            f"random idle/back-pressure: RTL {outcome['cycles']}, the model's "
                            f"{model} counts always-ready streams"))
    return Verdict(tuple(checks))


def runs_verdict(outcomes: list, *, cycles_required: bool) -> Verdict:
    """:func:`run_verdict` of every run, each outcome given its ``verdict`` (as a dict), and
    their sum; check names carry ``"run i: "`` when there are several runs."""
    several = len(outcomes) > 1
    verdict = Verdict(())
    for o in outcomes:
        v = run_verdict(o, cycles_required=cycles_required, label=f"run {o['run']}: " if several else "")
        o["verdict"] = v.as_dict()
        verdict = verdict + v
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
