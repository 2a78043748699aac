"""The photos that the photo options (:func:`.options.add_photo_options`) name."""
from __future__ import annotations

from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.images import augment, check_readable, photos_in_dir, split_photos, take


def photo_sets(args, profile: int, heldout: int) -> tuple[list, list]:
    """``profile`` profiling photos (augmented with ``--augment``) and ``heldout`` held-out
    photos, disjoint, their counts checked before anything is read: the shipped splits, or the
    two halves of ``--image-dir``."""
    if profile < 0 or heldout < 0:
        raise ConfigError(f"photo counts must not be negative ({profile}, {heldout})")
    if args.image_dir:
        where = f"image folder {args.image_dir}"
        ps = check_readable(photos_in_dir(args.image_dir), where)
        prof, held = split_photos(ps, profile, heldout, where)
    else:
        prof = take("profile", profile) if profile else []
        held = take("heldout", heldout) if heldout else []
    if profile and getattr(args, "augment", None):
        prof = prof + augment(prof, args.augment)
    return prof, held


def read_labels(path: str | None) -> dict[str, int] | None:
    """``--labels``: ``NAME CLASS`` lines (``#`` comments) as ``{name: class}``; ``None``
    without a file."""
    if not path:
        return None
    out = {}
    try:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                line = line.split("#")[0].strip()
                if not line:
                    continue
                parts = line.replace(",", " ").split()
                if len(parts) != 2 or not parts[1].isdigit():
                    raise ConfigError(f"labels file {path} line {i}: expected 'NAME CLASS', not {line!r}")
                out[parts[0]] = int(parts[1])
    except OSError as e:
        raise ConfigError(f"cannot read labels file {path} ({e.strerror})") from None
    return out
