"""The photos that the photo options (:func:`.options.add_photo_options`) name.

One rule for the photo counts of every command (profile, evaluate, verify, explore): a count the
user gave must be there (more than the source holds is an error naming the option and what there
is); a count left at its default (:class:`.options.Default`) takes all that a smaller folder
holds, saying so in one line on stderr. Every photo a command will use is opened and decoded
first, so a broken file is one line naming it before any long work.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.images import augment, check_photos, halves, photos, photos_in_dir
from dstripes.sim.nets.models import is_text_model
from dstripes.sim.nets.texts import sentences, sentences_in_file

from .options import Default


@dataclass(frozen=True)
class Count:
    """How many photos of one kind a command wants.

    Members
    -------
    count : int
        The number (a :class:`~.options.Default` when the user did not give ``flag``).
    flag : str, optional
        The option that sets it (``None``: a number the command fixes, which a small folder may
        lower like a default).
    """

    count: int
    flag: str | None = None

    @property
    def flexible(self) -> bool:
        """A smaller folder may give fewer."""
        return isinstance(self.count, Default) or self.flag is None


def photo_sets(args, profile: Count, heldout: Count, *, notes: list | None = None) -> tuple[list, list]:
    """The profiling photos (augmented with ``--augment``) and the held-out photos a command
    runs, disjoint: the first ones of the shipped splits, or of the two halves of
    ``--image-dir`` (every second file; every file profiles when no photo is held out).

    Counts follow the module's rule; every chosen photo is decoded once here, before any long
    work (:func:`~dstripes.sim.nets.images.check_photos`).

    Parameters
    ----------
    profile, heldout : Count
        The numbers wanted (0: none).
    notes : list, optional
        Receives the lines saying a default count was lowered, for the command to print with
        :func:`tell` once its other inputs are checked too (a refused run prints its error
        alone); without it they go to stderr at once.

    Returns
    -------
    tuple of two lists of Photo

    Raises
    ------
    ConfigError
        A count the user gave that the source cannot fill, a source with none of the photos
        wanted, or a photo that does not decode (naming the file).
    """
    if text_models(args):
        return _sentence_sets(args, profile, heldout, notes)
    if args.image_dir:
        where = f"image folder {args.image_dir}"
        pools = halves(photos_in_dir(args.image_dir), bool(heldout.count))
        how = ("its even-numbered files", "its odd-numbered files") if heldout.count else ("every file", "")
    else:
        where = "the shipped photo set"
        pools = (photos("profile") if profile.count else [], photos("heldout") if heldout.count else [])
        how = ("the profiling split", "the held-out split")
    said = []  # notes wait until the photos decode: a refused run prints its error alone
    prof, held = (pool[:_fit(want, len(pool), what, where, detail, said.append)]
                  for want, pool, what, detail in zip((profile, heldout), pools, ("profiling", "held-out"), how))
    check_photos(prof + held)
    if notes is None:
        tell(said)
    else:
        notes.extend(said)
    if prof and getattr(args, "augment", None):
        prof = prof + augment(prof, args.augment)
    return prof, held


def text_models(args) -> bool:
    """Whether ``--model`` names text models (sentences, not photos); refuses a mix of text and
    image models, and ``--text-file`` without a text model or ``--image-dir`` with one."""
    models = [args.model] if isinstance(args.model, str) else list(args.model)
    text = [m for m in models if is_text_model(m)]
    image = [m for m in models if not is_text_model(m)]
    if text and image:
        raise ConfigError(f"--model {text[0]} is a text model and {image[0]} an image model: run them apart")
    if getattr(args, "text_file", None) and not text:
        raise ConfigError(f"--text-file {args.text_file}: {image[0]} is an image model (sentences go to a text "
                          f"model such as minilm)")
    if text and getattr(args, "image_dir", None):
        raise ConfigError(f"--image-dir {args.image_dir}: {text[0]} is a text model (give sentences with --text-file)")
    return bool(text)


def _sentence_sets(args, profile: Count, heldout: Count, notes: list | None) -> tuple[list, list]:
    """:func:`photo_sets` for a text model: sentences of ``--text-file`` (its two halves) or the
    shipped splits (:mod:`dstripes.sim.nets.texts`)."""
    if getattr(args, "augment", None):
        raise ConfigError(f"--augment {' '.join(args.augment)}: augmentations are for photos, not sentences")
    if getattr(args, "text_file", None):
        where = f"text file {args.text_file}"
        pools = halves(sentences_in_file(args.text_file), bool(heldout.count))
        how = ("its 1st, 3rd, ... sentences", "its 2nd, 4th, ... sentences") if heldout.count else ("every line", "")
    else:
        where = "the shipped sentence set"
        pools = (sentences("profile") if profile.count else [], sentences("heldout") if heldout.count else [])
        how = ("the profiling split", "the held-out split")
    said = []
    prof, held = (pool[:_fit(want, len(pool), what, where, detail, said.append, noun="sentence")]
                  for want, pool, what, detail in zip((profile, heldout), pools, ("profiling", "held-out"), how))
    if notes is None:
        tell(said)
    else:
        notes.extend(said)
    return prof, held


def tell(notes: list) -> None:
    """Print the notes :func:`photo_sets` kept, one line each, on stderr."""
    for line in notes:
        print(line, file=sys.stderr)


def _fit(want: Count, available: int, what: str, where: str, detail: str, note, noun: str = "photo") -> int:
    """``want.count`` if ``available`` holds it; else (a flexible count) all there is, said in a
    note; else the error naming the option (``noun``: what is counted)."""
    count = want.count
    if count <= available:
        return count
    photos_ = f"{available} {what} {noun}{'' if available == 1 else 's'} ({detail})"
    if want.flexible and available:
        default = f"the default {count} of {want.flag}" if want.flag else f"the {count} a new profile is made on"
        note(f"{where} has {photos_}, fewer than {default}: using {available}")
        return available
    if not available:
        hint = f"; {want.flag} 0 runs without them" if want.flag == "--heldout" else ""
        raise ConfigError(f"{where} has no {what} {noun}s ({detail}){hint}")
    raise ConfigError(f"{want.flag} {count}: {where} has only {photos_}; ask for {available} or fewer, or leave "
                      f"{want.flag} out to use them all")


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
