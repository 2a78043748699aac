"""The precision profiles that the profile options (:func:`.options.add_profile_options`)
name, and the line that says how faithful one is."""
from __future__ import annotations

import os

from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.models import BUILTIN, TEXT_BUILTIN
from dstripes.sim.nets.profile import Profile, builtin_profile_path
from dstripes.sim.table import against


def shipped_profile(model: str, target: str, *, size: int | None = None) -> Profile | None:
    """The shipped profile of built-in network ``model`` for ``target``, or ``None`` (another
    network, or one searched at another input ``size``; ``None``: at any size)."""
    path = builtin_profile_path(model, target) if model in BUILTIN + TEXT_BUILTIN else None
    if path is None or not os.path.isfile(path):
        return None
    prof = Profile.load(path)
    return prof if size is None or prof.input.get("size") == size else None


def given_or_shipped(args, model: str, *, size: int | None) -> Profile | None:
    """``--profile``, else the shipped profile of ``model`` for ``--target`` (``"100"`` for a
    command without it) at ``size``, else ``None`` (the command profiles first)."""
    if args.profile:
        return Profile.load(args.profile)
    return shipped_profile(model, getattr(args, "target", "100"), size=size)


def check_int8_study(args, int8_model: str | None) -> None:
    """Refuse ``--int8`` (the int8 study, :mod:`dstripes.sim.nets.int8_study`) where it cannot
    apply: with ``--profile``, or on ``int8_model``, an int8 QDQ model with codes of its own.

    Raises
    ------
    ConfigError
        Naming the study and what it does not apply to.
    """
    if args.int8 and (int8_model or args.profile):
        raise ConfigError(f"--int8 {args.int8} makes int8 codes of a float network: "
                          + (f"{int8_model} has its own" if int8_model else "--profile does not apply"))


def why_profile_first(model: str, size: int | None) -> str:
    """Why network ``model`` is profiled before it runs: no ``--profile``, and (a built-in
    network) no shipped profile at its input ``size`` (``None``: at any size)."""
    if model not in BUILTIN + TEXT_BUILTIN:
        return "no --profile given (only the built-in networks ship profiles)"
    return "no --profile given and no shipped profile" + (f" at {size}x{size}" if size else "")


def fidelity_line(prof: Profile) -> str:
    """Criterion, fidelity on profiling and held-out photos, the worst held-out photo."""
    f = prof.fidelity
    line = (f"{prof.network} target {prof.target} ({prof.criterion} >= {prof.threshold:g}): "
            f"{f['unit']} {against(f['profile'], prof.threshold)} on {f['profile_images']} profiling photos")
    if "heldout" in f:
        w = f.get("heldout_worst", {})
        line += (f", {against(f['heldout'], prof.threshold)} on {f['heldout_images']} held-out photos "
                 f"({'meets' if f['heldout_pass'] else 'MISSES'} the target"
                 + (f"; worst {w['photo']}: {w['measure']} {w['value']:.4g}" if w else "") + ")")
    else:
        line += ", no held-out photos (not checked on photos it never saw)"
    for k, what in (("profile_accuracy", "profiling"), ("heldout_accuracy", "held-out")):
        if k in f:
            a = f[k]
            line += (f"; top-1 accuracy on {a['photos']} labelled {what} photos: float {a['float']:.1%}, "
                     f"quantised {a['quantised']:.1%}")
    return line
