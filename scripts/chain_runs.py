"""``evaluate --chain``: a network as a chain of integer layers (the accelerator's arithmetic,
layer after layer) judged against the float network on held-out photos (``docs/usage.md`` §14).
Imported by ``evaluate``'s ``run`` only."""
from __future__ import annotations

import os
import sys

from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.chain import chain_fidelity, integer_chain
from dstripes.sim.table import against, render

from .networks import load, network_names, refuse_int8
from .output import check_out_dir, print_json, write_json
from .photos import Count, photo_sets, tell
from .profiles import given_or_shipped

#: Options of ``evaluate`` that do not apply with ``--chain`` (flag, attribute).
NOT_WITH_CHAIN = (("--chip", "chip"), ("--energy", "energy"), ("--dump", "dump"), ("--labels", "labels"),
                  ("--augment", "augment"))


def evaluate(args) -> int:
    """Build each ``--model``'s integer chain on its profile and measure its fidelity on the
    ``--images`` held-out photos; a table (or ``--json``) and ``<out>/<network>/chain.json``."""
    for flag, attr in NOT_WITH_CHAIN:
        if getattr(args, attr, None):
            raise ConfigError(f"{flag} does not apply with --chain")
    if args.engine != "onnx":
        raise ConfigError(f"--chain walks the network's ONNX graph: --engine {args.engine} does not apply")
    names = network_names(args)
    refuse_int8(names, "evaluate --chain")
    if args.profile and len(names) > 1:
        raise ConfigError(f"--profile holds one network's profile but {len(names)} networks were given")
    profiles = {}
    for name in names:  # a chain needs a profile: given, or shipped (at any input size)
        prof = given_or_shipped(args, name, size=None)
        if prof is None:
            raise ConfigError(f"--chain needs a profile of {name}: give --profile FILE (dstripes profile makes one)")
        profiles[name] = prof
    check_out_dir(args.out)
    said = []
    _, photos = photo_sets(args, Count(0, "--profile-images"), Count(args.images, "--images"), notes=said)
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    chains = []
    for name in names:  # every chain is built (and every layer checked) before any photo runs
        net = load(args, name)
        prof = profiles[name]
        if prof.input.get("size") != net.size:
            note(f"{name}: profile searched at {prof.input.get('size')}x{prof.input.get('size')}, "
                 f"run at {net.size}x{net.size}")
        chains.append((net, prof, integer_chain(net, prof, weight_bits=getattr(args, "weight_bits", None) or 16)))
    tell(said)
    results = []
    for net, prof, chain in chains:
        progress = None if args.no_progress or args.json else (
            lambda i, n, p, _net=net.name: print(f"\r{_net}: photo {i}/{n} ({p})", end="\n" if i == n else "",
                                                  file=sys.stderr, flush=True))
        fid = chain_fidelity(net, prof, chain, photos, progress=progress)
        d = {**fid.as_dict(), "chain_layers": chain.as_dict()["layers"], "input": chain.as_dict()["input"]}
        folder = os.path.join(args.out, net.name)
        os.makedirs(folder, exist_ok=True)
        write_json(os.path.join(folder, "chain.json"), d)
        results.append((fid, d))
    if args.json:
        dicts = [d for _, d in results]
        print_json(dicts[0] if len(dicts) == 1 else {"networks": dicts})
        return 0
    rows = [[f.network, f"{f.criterion} >= {f.threshold:g}", f.images, against(f.value, f.threshold),
             against(f.profile_value, f.threshold), "meets" if f.passed else "MISSES",
             f"{f.worst['photo']} {f.worst['value']:.4g}", f"{f.seconds:.0f}"] for f, _ in results]
    print(render(["network", "target", "photos", "integer chain", "profile (float)", "verdict", "worst photo",
                  "seconds"], rows, title=f"integer chain against the float network (target {args.target})"))
    for f, _ in results:
        print(f"wrote {os.path.join(args.out, f.network, 'chain.json')} (per-layer descriptors and per-photo scores)")
    return 0
