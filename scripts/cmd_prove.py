"""``dstripes prove``: formal proofs of the precision detector, the serial datapath and the
streams with yosys ``sat`` (``docs/formal.md``).

Prove, with Debian's yosys 0.23 `sat`, properties of the bit-serial tile's blocks and print,
per property, proven / counterexample (with a readable trace) / inconclusive and the time taken.

  detector  every input at once (combinational SAT), the published 16 x 16, 16-bit, G = 1
            detector by default: top/bits/cycles equal a second description written bit
            position by bit position (valid window: lsb <= msb < A); codes inside the window
            are exactly their bits [top, top-bits+1]; any codes are sent as their window value
            (except signed codes in [-2^(lsb-1), -1] of a group below the window's resolution,
            sent as 0); any msb/lsb at all: cycles = max(1, max_g bits_g).
  serial    dispatcher + SIPs, split at the plane stream. serial.planes: free environment
            (arrivals, stalls), valid window held, codes inside it: each step's planes
            rebuild its codes exactly, carry its weights, take the model's cycles, in order;
            per signedness and mode; bounded (every trace of --depth cycles).
            serial.sip: every plane stream whose steps have at most A active transfers: at
            each add every SIP holds the running sum of what the planes carried; induction.
            serial.linearity, serial.lane_product: the lemmas joining the two, every input.
            serial.dot_product: the two together in one harness against exact dot
            products, bounded, at L=2, A=W=2 only (--no-end-to-end leaves it out).
  streams   input register, result buffer, controller, tile: no transfer lost or duplicated,
            payloads stable while valid and not ready; by induction where it closes, else
            bounded.

Tile options replace the given fields of every block's default configuration (the
dispatcher runs at L=2, Nr=1, A=W=4 with Nc=1 G=1 (both trims), Nc=2 G=2 (leading) and
Stripes; the SIP array and the lemmas also at L=2-4, A=W=4-6, G=1,2;
the streams at L=2, Nc=2, Nr=1, A=W=4). The dispatcher's cost grows steeply with A and L
(docs/formal.md): give --timeout for larger sizes. Exit status 0 only when every property is
proven; 1 if any has a counterexample or is inconclusive."""
from __future__ import annotations

import sys
import time

from dstripes.sim.table import render

from . import options
from .options import Option


def register(sub) -> None:
    p = options.add_command(sub, "prove", "formal proofs of the detector, the serial datapath and the streams",
                            __doc__.split("\n\n", 1)[1], layout=True)
    Option("--block", "what to prove (default all)", choices=("detector", "serial", "streams", "all"),
           default="all").add(p)
    Option("--small", "the detector at small sizes (4x4 8-bit G=1,2; 2x4 6-bit G=4; both trims) instead of the "
                      "published one: seconds instead of minutes", switch=True).add(p)
    options.add_tile_options(p, tiles=False, run_ahead=False, fc_dispatch=False)
    Option("--depth", "bound of every sequential property (default: per property, e.g. 2 + 2A + 1 cycles for "
                      "serial.planes)", type=int, metavar="N", check=options.positive).add(p)
    Option("--no-end-to-end", "leave out the end-to-end serial proof (serial.dot_product, A=W=2)", switch=True,
           off=True, dest="end_to_end").add(p)
    Option("--timeout", "seconds one SAT instance may take before the property is reported inconclusive "
                        "(default: no limit)", type=float, metavar="S", check=options.positive_number).add(p)
    options.add_cluster_options(p, jobs="parallel yosys runs", dask=False)
    options.add_output_options(p, out="keep each harness's Verilog, scripts and logs here", required=False,
                               json='{"properties": [...]}')
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.tb.formal import BLOCKS, PROVEN, harnesses
    from dstripes.tb.formal.engine import prove

    from .output import check_out_dir, print_json
    from .tiles import given_tile_options

    blocks = BLOCKS if args.block == "all" else (args.block,)
    # the configurations are built (and checked) before any work starts
    todo = harnesses(blocks, given=given_tile_options(args), small=args.small, depth=args.depth,
                     end_to_end=args.end_to_end)
    if args.out is not None:
        check_out_dir(args.out, "--out")

    def progress(o):
        if not args.json:
            print(f"  {o.name} [{o.config}]: {o.status} ({o.seconds:.1f} s)", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    outcomes = prove(todo, jobs=args.jobs, timeout=args.timeout, out=args.out, progress=progress)
    wall = time.perf_counter() - t0
    ok = bool(outcomes) and all(o.status == PROVEN for o in outcomes)
    if args.json:
        print_json({"properties": [o.as_dict() for o in outcomes], "proven": ok, "seconds": round(wall, 3)})
    else:
        print(report(outcomes, wall))
    return 0 if ok else 1


def report(outcomes, wall: float) -> str:
    rows = []
    for o in outcomes:
        how = {"sat": "every input", "induction": "induction (unbounded)",
               "bmc": f"bounded, {o.bound} cycles" if o.bound else "bounded"}.get(o.method, "")
        rows.append([o.name, o.config, o.status, how if o.status == "proven" else o.detail, o.seconds])
    parts = [render(["property", "configuration", "status", "scope", "seconds"], rows,
                    "Formal proofs (yosys sat)")]
    for o in outcomes:
        if o.trace:
            parts.append(f"Counterexample to {o.name} [{o.config}]: {o.detail}\n{o.trace}")
    proven = sum(o.status == "proven" for o in outcomes)
    parts.append(f"{proven} of {len(outcomes)} properties proven in {wall:.1f} s")
    return "\n\n".join(parts)
