"""Running formal properties with Debian's yosys 0.23 ``sat`` and reading its verdicts.

A *harness* is an Amaranth component that instantiates the blocks under proof beside whatever
the properties need (a reference, shadow registers of the environment) and exposes every
property and every assumption as a one-bit output. It is emitted once
(:func:`dstripes.hw.emit.to_verilog`), flattened once by yosys into ``design.il``, and each
property is then one yosys run ``sat -prove <property> 1 -set <assumption> 1 ...`` in its own
folder, so that every property has its own verdict, time and log.

Verdicts: ``proven`` (the solver found no input, or no trace within the bound, that breaks the
property; ``method`` says which: ``sat`` for a combinational proof over every input,
``induction`` for a temporal induction that closed — every reachable state — and ``bmc`` for a
bounded model check — every trace of at most ``bound`` cycles from reset), ``counterexample``
(with the solver's inputs rendered by the harness), ``inconclusive`` (the solver timed out).
A yosys run that fails is a :class:`~dstripes.sim.errors.ToolError`.
"""
from __future__ import annotations

import concurrent.futures as cf
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dstripes.hw.emit import to_verilog
from dstripes.sim.errors import ToolError
from dstripes.sim.limits import worker_count
from ..tools import run_script, stop_running

PROVEN, COUNTEREXAMPLE, INCONCLUSIVE = "proven", "counterexample", "inconclusive"
STATUSES = (PROVEN, COUNTEREXAMPLE, INCONCLUSIVE)
TOP = "formal_top"


@dataclass(frozen=True)
class Property:
    """One property of a harness.

    Parameters
    ----------
    name : str
        ``<block>.<property>``, e.g. ``detector.equivalence``.
    prove : tuple of str
        Harness outputs that must be 1 (in every cycle of a sequential check).
    assume : tuple of str
        Harness outputs constrained to 1 (in every cycle): the property's assumptions.
    depth : int
        0: combinational (one ``sat`` over every input). ``N > 0``: sequential from reset, at
        most ``N`` cycles (the BMC bound, and the longest induction tried).
    induction : bool
        Try temporal induction up to ``depth`` (an unbounded proof if it closes).
    statement : str
        One line: what is proven, under which assumptions.
    """

    name: str
    prove: tuple
    assume: tuple = ()
    depth: int = 0
    induction: bool = False
    statement: str = ""

    @property
    def block(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass
class Outcome:
    """The verdict on one property."""

    name: str
    block: str
    config: str
    status: str
    seconds: float
    method: str | None = None      # sat / induction / bmc (for a proof)
    bound: int | None = None       # cycles covered by a bounded proof or reached by a counterexample
    trace: str | None = None       # rendered counterexample
    detail: str = ""
    log: str | None = None         # the yosys log (kept with --out)
    statement: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "block": self.block, "config": self.config, "status": self.status,
                "seconds": round(self.seconds, 3), "method": self.method, "bound": self.bound,
                "statement": self.statement, "detail": self.detail, "trace": self.trace, "log": self.log}


class Harness:
    """What a block's formal check provides: the component, its properties and a renderer of
    counterexamples. Subclasses set :attr:`block` and implement the three methods."""

    block = ""

    def label(self) -> str:
        """The configuration, as printed beside each verdict (e.g. ``L=16 Nc=16 A=16 G=1``)."""
        raise NotImplementedError

    def component(self):
        raise NotImplementedError

    def properties(self) -> list[Property]:
        raise NotImplementedError

    def outputs(self) -> tuple:
        """Every property and assumption output of the harness."""
        return tuple(sorted({s for p in self.properties() for s in p.prove + p.assume}))

    def render(self, prop: Property, steps: list[dict[str, str]]) -> str:
        """A readable counterexample from ``steps`` (per time step: signal -> binary string,
        MSB first, as yosys printed it)."""
        raise NotImplementedError


# --- yosys scripts and their output -------------------------------------------------------

_VACUITY = "formal: are the assumptions satisfiable"


def vacuity_command(prop: Property, timeout: float | None) -> str:
    """A ``sat`` that looks for any input (any trace of ``depth`` cycles) meeting the
    assumptions: a proof under assumptions no input meets would hold vacuously."""
    args = ["sat", "-set-init-zero"]
    if prop.depth:
        args += ["-set", "rst", "0", "-seq", str(prop.depth)]
    for s in prop.assume:
        args += ["-set", s, "1"]
    if timeout:
        args += ["-timeout", str(max(1, int(round(timeout))))]
    return " ".join(args)


def sat_command(prop: Property, timeout: float | None) -> str:
    args = ["sat", "-set-init-zero"]
    if prop.depth:
        args += ["-set", "rst", "0"]
        if prop.induction:
            args += ["-tempinduct", "-maxsteps", str(prop.depth)]
        else:
            args += ["-seq", str(prop.depth)]
    for s in prop.assume:
        args += ["-set", s, "1"]
    for s in prop.prove:
        args += ["-prove", s, "1"]
    if timeout:
        args += ["-timeout", str(max(1, int(round(timeout))))]
    args += ["-show-inputs", "-show-outputs", "-show-regs"]
    return " ".join(args)


_ROW = re.compile(r"^\s+(?:(init|\d+)\s+)?\\(\S+)\s+\S+\s+\S+\s+([01xz]+)\s*$")


def parse_model(log: str) -> list[dict[str, str]]:
    """The last model table yosys printed: ``[{signal: binary}]`` per time step (one step for a
    combinational proof; ``init``, the initial register values, merged into step 1)."""
    head = log.rfind("Signal Name")
    if head < 0:
        return []
    steps: dict[int, dict[str, str]] = {}
    init: dict[str, str] = {}
    for line in log[head:].splitlines()[2:]:
        row = _ROW.match(line)
        if not row:
            if line.strip() and not line.strip().startswith("----"):
                break
            continue
        when, name, bits = row.groups()
        if when == "init":
            init[name] = bits
        else:
            steps.setdefault(int(when or 1), {})[name] = bits
    out = [steps[k] for k in sorted(steps)]
    if out:
        out[0] = {**init, **out[0]}
    elif init:
        out = [init]
    return out


def verdict(log: str, prop: Property) -> tuple[str, str | None, int | None, str]:
    """``(status, method, bound, detail)`` from the log of one ``sat`` run."""
    if "Interrupted SAT solver: TIMEOUT!" in log:
        return INCONCLUSIVE, None, None, "the SAT solver timed out"
    if prop.depth and prop.induction:
        if "model found for base case: FAIL!" in log:
            return COUNTEREXAMPLE, "bmc", None, "the base case failed"
        if "Induction step proven: SUCCESS!" in log:
            k = re.findall(r"Trying induction with length (\d+)", log)
            return PROVEN, "induction", None, f"induction closed at length {k[-1] if k else '?'}"
        if "Reached maximum number of time steps -> proof failed." in log:
            return (PROVEN, "bmc", prop.depth,
                    f"no counterexample within {prop.depth} cycles; induction did not close")
    else:
        if "SAT proof finished - no model found: SUCCESS!" in log:
            if prop.depth:
                return PROVEN, "bmc", prop.depth, f"no counterexample within {prop.depth} cycles"
            return PROVEN, "sat", None, "no input breaks it"
        if "SAT proof finished - model found: FAIL!" in log:
            return COUNTEREXAMPLE, "bmc" if prop.depth else "sat", None, ""
    return INCONCLUSIVE, None, None, "yosys printed no verdict"


# --- running -------------------------------------------------------------------------------

@dataclass
class Prepared:
    """A harness flattened into ``design.il`` under ``workdir``."""

    harness: Harness
    workdir: Path
    emit_seconds: float
    prep_seconds: float
    properties: list = field(default_factory=list)


def prepare(harness: Harness, workdir, *, yosys=None, timeout=None) -> Prepared:
    """Emit the harness and flatten it once (``design.il``)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    (workdir / "harness.v").write_text(to_verilog(harness.component(), TOP))
    t1 = time.perf_counter()
    script = (f"read_verilog -formal harness.v\n"
              f"prep -flatten -top {TOP}\n"
              f"opt_clean\n"
              f"write_rtlil design.il\n")
    run = run_script(script, workdir, what=f"formal harness {harness.block} ({harness.label()})",
                     yosys=yosys, timeout=timeout)
    return Prepared(harness, workdir, t1 - t0, run.seconds, harness.properties())


def run_property(prep: Prepared, prop: Property, *, yosys=None, timeout=None, keep=False) -> Outcome:
    """Prove one property of a prepared harness."""
    h = prep.harness
    wd = prep.workdir / prop.name.replace(".", "_")
    wd.mkdir(parents=True, exist_ok=True)
    # the other properties' outputs become internal wires, so their logic is cleaned away and
    # the solver sees only this property's cone
    others = sorted(set(h.outputs()) - set(prop.prove) - set(prop.assume))
    script = f"read_rtlil {prep.workdir.resolve() / 'design.il'}\n"
    if others:
        script += f"delete -output {' '.join(f'{TOP}/w:{o}' for o in others)}\nopt_clean -purge\n"
    script += sat_command(prop, timeout) + "\n"
    if prop.assume:
        script += f"log {_VACUITY}\n{vacuity_command(prop, timeout)}\n"
    t0 = time.perf_counter()
    run = run_script(script, wd, what=f"property {prop.name} ({h.label()})", yosys=yosys)
    seconds = time.perf_counter() - t0
    log, _, vacuity = run.log.partition(_VACUITY)
    status, method, bound, detail = verdict(log, prop)
    if status == PROVEN and prop.assume and "SAT solving finished - model found" not in vacuity:
        status, method, bound = INCONCLUSIVE, None, None
        detail = ("no input meets the assumptions " + ", ".join(prop.assume)
                  + (" (or that check timed out)" if "TIMEOUT" in vacuity else "") + ": the proof is vacuous")
    trace = None
    if status == COUNTEREXAMPLE:
        steps = parse_model(log)
        if not steps:
            raise ToolError(f"yosys reported a counterexample to {prop.name} but printed no model; "
                            f"log: {wd / 'yosys.log'}")
        bound = len(steps) if prop.depth else None
        trace = h.render(prop, steps)
        detail = detail or (f"fails in cycle {bound} from reset" if prop.depth else "an input breaks it")
    return Outcome(prop.name, h.block, h.label(), status, seconds, method, bound, trace, detail,
                   str(wd / "yosys.log") if keep else None, prop.statement)


def prove(harnesses, *, names=None, jobs: int | None = None, timeout: float | None = None,
          out=None, yosys=None, progress=None, stats: list | None = None) -> list[Outcome]:
    """Prove every property of every harness; return the outcomes in order.

    Parameters
    ----------
    harnesses : iterable of Harness
    names : container of str, optional
        Only the properties with these names.
    jobs : int, optional
        Parallel yosys runs (default: the number of CPUs).
    timeout : float, optional
        Seconds one SAT instance may take before the property is inconclusive.
    out : path, optional
        Keep each harness's Verilog, scripts and logs under ``out/<block>-<n>/``.
    progress : callable, optional
        Called with each :class:`Outcome` as it arrives.
    stats : list, optional
        Appended with ``{"harness", "config", "emit_seconds", "prep_seconds"}`` per harness
        (Amaranth emission and the yosys flattening that precede its properties).
    """
    harnesses = list(harnesses)
    jobs = worker_count(jobs)
    tmp = tempfile.TemporaryDirectory(prefix="formal-") if out is None else None
    root = Path(out) if out is not None else Path(tmp.name)
    results: dict[tuple[int, int], Outcome] = {}
    try:
        with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {}
            try:
                # emission is Python (serial); each harness's properties start as soon as it is ready
                for i, h in enumerate(harnesses):
                    props = [p for p in h.properties() if names is None or p.name in names]
                    if not props:
                        continue
                    prep = prepare(h, root / f"{h.block}-{i}", yosys=yosys)
                    if stats is not None:
                        stats.append({"harness": h.block, "config": h.label(),
                                      "emit_seconds": prep.emit_seconds, "prep_seconds": prep.prep_seconds})
                    for j, p in enumerate(props):
                        fut = pool.submit(run_property, prep, p, yosys=yosys, timeout=timeout,
                                          keep=out is not None)
                        futures[fut] = (i, j)
                for fut in cf.as_completed(futures):
                    results[futures[fut]] = o = fut.result()
                    if progress is not None:
                        progress(o)
            except BaseException:
                for f in futures:
                    f.cancel()
                stop_running()
                raise
    finally:
        if tmp is not None:
            tmp.cleanup()
    return [results[k] for k in sorted(results)]
