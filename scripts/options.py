"""The command line's options, each defined once, in the groups the subcommands compose.

An option's flag, value type, choices, help and check are one :class:`Option` here. A subcommand's
``register`` makes its parser with :func:`add_command` and adds the groups it needs; an option
that only one subcommand has is defined in that subcommand's module. A group's keyword
parameters say how one subcommand differs, always explicitly: another default (shown by
``--help``), what it does with the value (``--out``, ``--json``, ``--jobs``), or which options of
the group it takes.

==========  =================================================  ===================================
group       options                                            subcommands
==========  =================================================  ===================================
tile        ``--scheme``; ``--lanes`` ... ``--max-reduction``  cycles generate simulate verify
                                                               synth prove evaluate
layer       ``--acts --weights --layer --window --signed       cycles simulate
            --image``
network     ``--model --size --preprocess --criterion          profile evaluate verify explore
            --engine``
profile     ``--profile --target``; search: ``--headroom       profile evaluate verify explore
            --margin --augment``; ``--int8``                   (``--int8``: evaluate verify)
photos      ``--images --heldout --profile-images              profile evaluate verify explore
            --image-dir --labels``
run         ``--sim --window-sets``                            simulate verify demo
synthesis   ``--liberty``                                      synth evaluate explore
chip        ``--chip --tiles --nm-kib --nm-read --sb-kib       generate simulate evaluate
            --no-reuse``; off-chip ``--dram-...``              synth verify
cluster     ``--jobs --scheduler --no-progress``               profile evaluate verify explore
                                                               (synth, prove: ``--jobs``)
output      ``--out --json``                                   every subcommand (``--json``)
==========  =================================================  ===================================

A value is checked as it is parsed (``Option.check``): an unusable one ends the command with one
line ``dstripes: error: ...`` (status 2) before anything is read or built. Rules that join
several options (a tile configuration, a layer and its files) are checked in the subcommand's
``run`` by the modules that interpret the options: :mod:`.tiles`, :mod:`.arrays`,
:mod:`.networks`, :mod:`.photos`, :mod:`.profiles`, :mod:`.cluster`, :mod:`.output`.
"""
from __future__ import annotations

import argparse
from dataclasses import KW_ONLY, dataclass, replace
from typing import Callable

import numpy as np

from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.config import TRIMS, WEIGHT_SELECTS, TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.limits import worker_count
from dstripes.sim.nets.fidelity import CRITERIA, TARGETS
from dstripes.sim.nets.images import AUGMENTATIONS, PREPROCESS
from dstripes.sim.nets.models import BUILTIN
from dstripes.sim.nets.headroom import DEFAULT_HEADROOM, DEFAULT_MARGIN_DB, headroom_bits
from dstripes.sim.schemes import DSTRIPES, SCHEMES

#: ``Option.add``'s ``default`` when the option keeps its own.
_OWN = object()


class _Checked(argparse.Action):
    """Store a value once its option's ``check`` accepted it (each value of a list)."""

    def __init__(self, option_strings, dest, *, check, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.check = check

    def __call__(self, parser, namespace, values, option_string=None):
        for value in values if isinstance(values, list) else [values]:
            self.check(value, option_string)  # ConfigError: cli.main prints its one line
        setattr(namespace, self.dest, values)


@dataclass(frozen=True)
class Option:
    """One command-line option, as every subcommand that has it adds it.

    Parameters
    ----------
    flag : str
        ``--name``; the value is ``args.name`` (``-`` read as ``_``) unless ``dest`` says otherwise.
    help : str
        The ``--help`` text (``%(default)s`` shows the default).

    The other parameters are keyword-only:

    type : callable, optional
        Turns the text into the value (``int``, ``float``, ...); argparse reports a failure.
    choices, metavar, nargs, dest : optional
        As :meth:`argparse.ArgumentParser.add_argument`.
    default : optional
        The value when the option is not given; ``None`` lets a command tell an option the user
        gave from one left alone.
    switch : bool
        An option without a value: ``True`` when given (``store_true``).
    off : bool
        With ``switch``: ``False`` when given, ``True`` otherwise (``--no-...`` of a ``dest``
        that is on by default).
    check : callable, optional
        ``check(value, flag)`` raises :class:`~dstripes.sim.errors.ConfigError`, naming the
        flag, for a value that parses but cannot be used; it runs as the value is parsed.

    Raises
    ------
    ValueError
        A flag that is not ``--name``; a switch with a value's parameters; ``off`` without
        ``switch``.
    """
    flag: str
    help: str
    _: KW_ONLY
    type: Callable | None = None
    choices: tuple | None = None
    metavar: str | None = None
    nargs: str | None = None
    default: object = None
    switch: bool = False
    off: bool = False
    check: Callable | None = None
    dest: str | None = None

    def __post_init__(self):
        if not self.flag.startswith("--") or len(self.flag) < 3:
            raise ValueError(f"an option's flag is --name, not {self.flag!r}")
        valued = {"type": self.type, "choices": self.choices, "metavar": self.metavar, "nargs": self.nargs,
                  "check": self.check}
        if self.switch and any(v is not None for v in valued.values()):
            raise ValueError(f"switch {self.flag} takes no value, so no "
                             f"{', '.join(k for k, v in valued.items() if v is not None)}")
        if self.off and not self.switch:
            raise ValueError(f"{self.flag}: off applies to a switch only")

    def add(self, parser, *, default=_OWN, help: str | None = None, required: bool = False) -> None:
        """Add the option to ``parser`` (a parser or an argument group). ``default`` and
        ``help`` replace the option's own for a subcommand that needs another (its
        ``register`` passes them, and ``--help`` shows them); ``required`` makes it mandatory."""
        kw = {"help": self.help if help is None else help,
              "default": self.default if default is _OWN else default}
        if self.dest is not None:
            kw["dest"] = self.dest
        if self.switch:
            if self.off:
                kw.update(action="store_false", default=True)
            else:
                kw.update(action="store_true", default=False)
            parser.add_argument(self.flag, **kw)
            return
        kw.update({k: v for k, v in (("type", self.type), ("choices", self.choices), ("metavar", self.metavar),
                                     ("nargs", self.nargs)) if v is not None})
        if self.check is not None:
            kw.update(action=_Checked, check=self.check)
        parser.add_argument(self.flag, required=required, **kw)


def add_command(sub, name: str, help: str, description: str, *, layout: bool = False) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``: ``help`` is its line in ``dstripes --help``,
    ``description`` the text above its options (``layout``: printed as written, not refilled)."""
    formatter = argparse.RawDescriptionHelpFormatter if layout else argparse.HelpFormatter
    return sub.add_parser(name, help=help, description=description, formatter_class=formatter)


# ---------------------------------------------------------------- checks of single values

def positive(value, flag: str) -> None:
    if value < 1:
        raise ConfigError(f"{flag} must be positive, not {value}")


def not_negative(value, flag: str) -> None:
    if value < 0:
        raise ConfigError(f"{flag} must be non-negative, not {value}")


def positive_number(value, flag: str) -> None:
    if not value > 0:
        raise ConfigError(f"{flag} must be a positive number, not {value:g}")


def probability(value, flag: str) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{flag} must be a probability in [0, 1), not {value}")


def _workers(value, flag: str) -> None:
    worker_count(value)


def headroom_value(text: str):
    """``--headroom``: a number of bits where the text is one (``1.5``), else the text
    (``auto``, ``auto+1``), which :func:`~dstripes.sim.nets.headroom.headroom_bits` checks."""
    try:
        return float(text)
    except ValueError:
        return text


def _headroom(value, flag: str) -> None:
    headroom_bits(np.ones((2, 1)), value)  # the search's own rule, on a stand-in of two photos


def window_sets(text: str):
    """``--window-sets``: a positive count, or ``all`` (kept as text)."""
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of window-sets or 'all', not {text!r}") from None


# ---------------------------------------------------------------- tile

#: ``(TileConfig field, help)`` of the tile options, in ``--help`` order; the flag is the field
#: with dashes.
_TILE_FIELDS = (
    ("lanes", "activations per brick L"),
    ("columns", "windows per tile Nc"),
    ("rows", "filters per tile Nr"),
    ("tiles", "tiles sharing the activations T (model only)"),
    ("act_bits", "activation width A"),
    ("weight_bits", "weight width W"),
    ("group", "columns per precision group G (Dynamic Stripes)"),
    ("trim", "leading: leading-one detection; both: also trailing zeros (Dynamic Stripes)"),
    ("run_ahead", "steps a precision group may run ahead of the slowest (0: lock-step)"),
    ("weight_select", "run-ahead tile: select each group's weights with a mux per group or inside every SIP "
                      "(hardware only)"),
    ("max_reduction", "longest reduction (products per result) the accumulators hold without overflow; "
                      "sets their width"),
    ("fc_dispatch", "build the lock-step bit-serial tile with the round-robin dispatch of fully-connected layers "
                    "(weights held in the SIPs, a column sum; hardware only, docs/design.md §5)"),
)
#: Tile options that are switches (no value; given when on).
_TILE_SWITCHES = ("fc_dispatch",)
_TILE_CHOICES = {"trim": TRIMS, "weight_select": WEIGHT_SELECTS}

#: The tile options by :class:`TileConfig` field. Their default is ``None`` (the published tile's
#: value, shown by ``--help``): an option the user gave is told from one left alone, and one the
#: tile kind does not use is an error naming it (:mod:`.tiles`).
TILE = {field: Option("--" + field.replace("_", "-"), f"{text} (default off)", switch=True)
        if field in _TILE_SWITCHES else
        Option("--" + field.replace("_", "-"), f"{text} (default {getattr(TileConfig(), field)})",
               choices=_TILE_CHOICES.get(field), type=None if field in _TILE_CHOICES else int,
               metavar=None if field in _TILE_CHOICES else "N")
        for field, text in _TILE_FIELDS}

#: Options of the hardware only: the model's counts do not depend on them.
HARDWARE_ONLY = ("weight_select", "fc_dispatch")


def tile_flag(field: str) -> str:
    """The option of a :class:`TileConfig` field (``run_ahead`` -> ``--run-ahead``)."""
    return TILE[field].flag


def add_tile_options(p, *, tiles: bool = True, run_ahead: bool = True, hardware: bool = True,
                     fc_dispatch: bool = True) -> None:
    """The tile configuration (defaults: the published tile). ``tiles`` and ``run_ahead`` add
    the options of those model parameters (generated and proven tiles are one tile; the proofs
    have no run-ahead), ``hardware`` those of the hardware only (:data:`HARDWARE_ONLY`; not for
    the commands that only count cycles), ``fc_dispatch`` that option (the proofs have no
    fully-connected dispatch)."""
    g = p.add_argument_group("tile configuration (defaults: the published tile)")
    for field, option in TILE.items():
        if (field, False) in (("tiles", tiles), ("run_ahead", run_ahead), ("fc_dispatch", fc_dispatch)) or \
                (field in HARDWARE_ONLY and not hardware):
            continue
        option.add(g)


def add_kind_option(p, *, every: bool = False) -> None:
    """``--scheme``: a tile kind; ``every`` also accepts ``all`` and makes it the default (synth).

    A kind is the hardware of a model scheme (:mod:`dstripes.hw.kinds`), whose name and title
    the scheme holds: the choices are read from :data:`dstripes.sim.schemes.SCHEMES`, so that
    ``--help`` loads no hardware (Amaranth); ``tests/test_cli_options.py`` checks that they are
    the registry's kinds."""
    default = "all" if every else DSTRIPES.name
    titles = ", ".join(f"{s.name} ({s.title})" for s in SCHEMES.values())
    Option("--scheme", f"tile kind: {titles}{', or all' if every else ''} (default {default})",
           choices=tuple(SCHEMES) + (("all",) if every else ()), metavar="KIND").add(p, default=default)


# ---------------------------------------------------------------- layer (cycles, simulate)

LAYER = Option("--layer", "k=K,kh=KH,kw=KW,stride=S,pad=P[,dilation=D][,groups=G] (S, P, D: N or NYxNX; a "
                          "square kernel when one side is given), or k=K,fc for a fully-connected layer",
               metavar="SPEC")
WINDOW = Option("--window", "the bits a code may set, MSB:LSB (MSB alone means MSB:0). Codes are the integers "
                            "the activation container holds: 9:2 allows multiples of 4 from 0 to 1020 (5 is "
                            "rejected); see docs/usage.md", metavar="MSB:LSB")
ACTS = Option("--acts", "integer activation codes, (C,H,W) or (N,C,H,W) (see --image)", metavar="ACTS.npy")
WEIGHTS = Option("--weights", "integer weights, PyTorch layout (K, C/groups, KH, KW)", metavar="W.npy")
SIGNED = Option("--signed", "two's-complement activations", switch=True)
IMAGE = Option("--image", "input N of an (N,C,H,W) file", type=int, metavar="N")


def add_layer_options(p, *, images: str, weights: bool = False, fc: bool = True) -> None:
    """A layer on activation (and ``weights``) files: ``--acts [--weights] --layer --window
    --signed --image``. ``images`` says which inputs of an ``(N,C,H,W)`` file run when
    ``--image`` is not given; ``fc`` False: conv layers only."""
    ACTS.add(p, required=True)
    if weights:
        WEIGHTS.add(p, required=True)
    LAYER.add(p, required=True, help=LAYER.help + ("" if fc else " (conv layers only)"))
    WINDOW.add(p, required=True)
    SIGNED.add(p)
    IMAGE.add(p, help=f"{IMAGE.help} (default: {images})")


# ---------------------------------------------------------------- network

MODEL = Option("--model", f"{', '.join(BUILTIN)}, or an ONNX file", metavar="NAME|PATH.onnx")
SIZE = Option("--size", "input height and width (default 224; an ONNX model that fixes its input size runs at "
                        "that size, and another --size is an error); for a text model: tokens per sentence "
                        "(default 32)", type=int, metavar="PIXELS|TOKENS")
PREPROCESS_OPTION = Option(
    "--preprocess", "input normalisation: " + "; ".join(f"{k}: {v}" for k, v in PREPROCESS.items())
    + ". Default: a built-in network's own (docs/usage.md §4); ONNX files: imagenet",
    choices=tuple(PREPROCESS), metavar="NAME")
CRITERION = Option("--criterion", "output fidelity criterion: top1 (same top-1 class as the float network), cosine "
                                  "(cosine similarity of the outputs), psnr (PSNR of outputs in 0..1). Default: a "
                                  "built-in network's own (docs/usage.md §4); ONNX files: top1 for a 1000- or "
                                  "1001-class output, cosine otherwise", choices=CRITERIA)
TOKENIZER = Option("--tokenizer", "the tokenizer.json (Hugging Face tokenizers format) of an ONNX text model whose "
                                  "inputs are input_ids / attention_mask / token_type_ids (the built-in minilm has its "
                                  "own)", metavar="FILE")
ENGINE = Option("--engine", "how the PyTorch built-ins run: onnx exports them to ONNX and runs them on onnxruntime "
                            "(fast, the default); torch runs them eagerly in PyTorch with forward hooks. ONNX "
                            "models always run on onnxruntime", choices=("onnx", "torch"), default="onnx")


def add_network_options(p, *, many: bool = False, front_end: bool = True) -> None:
    """The network: ``--model --size`` and, with ``front_end``, ``--preprocess --criterion
    --engine`` (explore runs every network with its own front-end). ``many``: several
    ``--model`` values, ``all`` for every built-in network (evaluate)."""
    if many:
        replace(MODEL, nargs="+").add(p, required=True, help=f"{', '.join(BUILTIN)}, ONNX files, or 'all' for "
                                                             f"every built-in network")
    else:
        MODEL.add(p, required=True)
    SIZE.add(p)
    if front_end:
        for option in (PREPROCESS_OPTION, CRITERION, ENGINE, TOKENIZER):
            option.add(p)


# ---------------------------------------------------------------- profile and its search

PROFILE = Option("--profile", "precision profile", metavar="PROFILE.json")
TARGET = Option("--target", "fidelity target of the profile (the shipped one, or the one searched), after the "
                            "papers' 100 %% / 99 %% accuracy: 100 keeps every photo's top-1 class (cosine >= "
                            "0.999, PSNR >= 50 dB), 99 allows 1 %% of photos to differ (cosine >= 0.99, PSNR >= "
                            "40 dB) (default %(default)s)", choices=TARGETS, default=TARGETS[0])
HEADROOM = Option("--headroom", "room above the largest activation seen while profiling: a number of bits, 'auto' "
                                "per layer from the spread across photos, or 'auto+BITS' (%(default)s)",
                  type=headroom_value, metavar="BITS|auto[+BITS]", default=DEFAULT_HEADROOM, check=_headroom)
MARGIN = Option("--margin", "the search keeps this much error energy below the target (default per criterion: "
                + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_MARGIN_DB.items()) + " dB)", type=float, metavar="DB")
AUGMENT = Option("--augment", "add augmented copies of the profiling photos: " + ", ".join(AUGMENTATIONS),
                 choices=AUGMENTATIONS, nargs="*", metavar="KIND", default=[])


INT8 = Option("--int8", "an int8 study of a float network instead of a profile: every layer's input as int8 "
                         "codes with one scale per tensor (static, calibrated on --profile-images samples) or per "
                         "token (dynamic; per head for attention), on 8-bit tiles (A = W = 8: Stripes-8, DaDN-8)",
              choices=("tensor", "token"))  # int8_study.SCALES, kept light for --help (tests/test_cli_options.py)


def add_profile_options(p, *, shipped: str, target: bool = True) -> None:
    """``--profile`` (``shipped``: what a command uses without one) and, with ``target``,
    ``--target``."""
    PROFILE.add(p, help=f"{PROFILE.help} (default: {shipped})")
    if target:
        TARGET.add(p)


def add_search_options(p) -> None:
    """``--headroom --margin --augment`` of the profile search (profile, evaluate)."""
    for option in (HEADROOM, MARGIN, AUGMENT):
        option.add(p)


# ---------------------------------------------------------------- photos

class Default(int):
    """A photo count left at its default: the value of ``--images``, ``--heldout`` or
    ``--profile-images`` when the user did not give the option. It is the count itself, and
    tells :func:`.photos.photo_sets` that a smaller folder may give fewer (a count the user gave
    must be there)."""


IMAGES = Option("--images", "photos", type=int, metavar="N", check=positive)
HELDOUT = Option("--heldout", "held-out photos for the fidelity report, disjoint from the profiling photos "
                              "(%(default)s, or all a smaller --image-dir holds; 0: none)", type=int, metavar="N",
                 default=Default(16), check=not_negative)
PROFILE_IMAGES = Option("--profile-images", "photos to profile on when profiling first, disjoint from the evaluated "
                                            "ones (%(default)s, or all a smaller --image-dir holds)", type=int,
                        metavar="N", default=Default(16), check=positive)
IMAGE_DIR = Option("--image-dir", "your own photos from DIR instead of the shipped ones (every .jpg, .png, ...): "
                                  "even-numbered files (in name order) profile, odd-numbered ones are held out",
                   metavar="DIR")
TEXT_FILE = Option("--text-file", "a text model's sentences from FILE (UTF-8, one sentence per line) instead of the "
                                  "shipped ones: the 1st, 3rd, ... sentences profile, the 2nd, 4th, ... are held "
                                  "out",
                   metavar="FILE")
LABELS = Option("--labels", "ImageNet class of photos, one 'NAME CLASS' per line: top-1 accuracy is reported beside "
                            "the agreement (the shipped photos carry no labels)", metavar="FILE")


def add_photo_options(p, *, images: int, profiling: bool = False, labels: bool = True, text: bool = False) -> None:
    """``--images`` (``images``: the default count; ``profiling``: the photos profiled on, else
    the held-out photos run), ``--image-dir``, with ``text`` ``--text-file`` (a text model's
    sentences) and, with ``labels``, ``--labels``."""
    which = ("profiling photos: the first N of the profiling split (or of the even-numbered half of "
             "--image-dir)" if profiling else
             "held-out photos to run: the first N of the held-out split (or of the odd-numbered half of "
             "--image-dir)")
    IMAGES.add(p, default=Default(images), help=f"{which} (default %(default)s, or all a smaller --image-dir holds)")
    IMAGE_DIR.add(p)
    if text:
        TEXT_FILE.add(p)
    if labels:
        LABELS.add(p)


# ---------------------------------------------------------------- run (simulation)

SIMULATOR = Option("--sim", "simulator (default %(default)s; Icarus is far slower on the published tile)", choices=("verilator", "icarus"), default="verilator")
WINDOW_SETS = Option("--window-sets", "the first N window-sets only, or all of them",
                     type=window_sets, metavar="N|all")


def add_run_options(p, *, window_sets: str | None = None) -> None:
    """``--sim`` and, when ``window_sets`` says what the command runs without it, ``--window-sets``."""
    SIMULATOR.add(p)
    if window_sets is not None:
        WINDOW_SETS.add(p, help=f"{WINDOW_SETS.help} (default: {window_sets})")


# ---------------------------------------------------------------- synthesis

LIBERTY = Option("--liberty", "a Liberty file, or 'sky130' (SkyWater 130 nm HD, shipped)", metavar="FILE|sky130")


def add_liberty_option(p, *, use: str, default: str | None = None) -> None:
    """``--liberty``; ``use`` says what the command does with the library."""
    LIBERTY.add(p, default=default, help=f"{use}: {LIBERTY.help}" + (" (default %(default)s)" if default else ""))


# ---------------------------------------------------------------- cluster

JOBS = Option("--jobs", "parallel workers", type=int, metavar="N", check=_workers)
SCHEDULER = Option("--scheduler", "run on a Dask cluster (tcp://host:8786) instead of local workers", metavar="ADDRESS")
NO_PROGRESS = Option("--no-progress", "no progress bars", switch=True)


def add_cluster_options(p, *, jobs: str = "local Dask worker processes", dask: bool = True) -> None:
    """``--jobs`` (``jobs``: what runs in parallel) and, with ``dask``, ``--scheduler`` and
    ``--no-progress``."""
    JOBS.add(p, help=f"{jobs} (default: one per CPU)")
    if dask:
        SCHEDULER.add(p)
        NO_PROGRESS.add(p)


# ---------------------------------------------------------------- accelerator (--chip)

_CHIP = ChipConfig()
CHIP = Option("--chip", "the whole accelerator — T tiles sharing an activation broadcast, the activation memory NM, "
                        "one weight buffer per tile, an off-chip port (docs/design.md §10) — instead of one tile",
              switch=True)
NM_KIB = Option("--nm-kib", f"NM capacity in KiB (default {_CHIP.nm_kib})", type=int, metavar="N", check=positive)
NM_READ = Option("--nm-read", f"NM bricks read (and written) per cycle (default {_CHIP.nm_read})", type=int,
                 metavar="N", check=positive)
SB_KIB = Option("--sb-kib", f"one tile's weight buffer, both halves, in KiB (default {_CHIP.sb_kib})", type=int,
                metavar="N", check=positive)
NO_REUSE = Option("--no-reuse", "read every brick from NM (no copy of the previous step's bricks; docs/design.md §10)",
                  switch=True, off=True, dest="reuse")
DRAM_LATENCY = Option("--dram-latency", "off-chip latency in cycles (default 100)", type=int, metavar="N",
                      check=positive)
DRAM_BANDWIDTH = Option("--dram-bytes-per-cycle", "off-chip bandwidth in bytes per cycle", type=float, metavar="X",
                        check=positive_number)
DRAM_STALL = Option("--dram-stall", "probability of off-chip back-pressure in a cycle, seeded by --seed "
                                    "(default %(default)s)", type=float, metavar="P", default=0.0, check=probability)
DRAM_JITTER = Option("--dram-jitter", "mask 2**k-1 of a random extra off-chip latency per request, seeded by --seed "
                                      "(default %(default)s)", type=int, metavar="M", default=0, check=not_negative)
#: Keys of ``explore --sweep`` that are the accelerator's (its memory-aware model).
CHIP_SWEEP_KEYS = ("nm_read",)


def add_chip_options(p, *, tiles: bool, dram: str | None) -> None:
    """``--chip`` and the accelerator's parameters; ``tiles`` adds ``--tiles`` (for the commands
    whose tile options leave it out); ``dram``: ``"simulate"`` (latency, bandwidth, back-pressure,
    jitter), ``"model"`` (latency and bandwidth; without a bandwidth every pass's weights are on
    chip) or ``None``."""
    g = p.add_argument_group("accelerator (--chip; docs/usage.md §12)")
    CHIP.add(g)
    if tiles:
        TILE["tiles"].add(g, help=f"tiles sharing the activation broadcast (default {_CHIP.tiles})")
    for option in (NM_KIB, NM_READ, SB_KIB, NO_REUSE):
        option.add(g)
    if dram:
        DRAM_LATENCY.add(g)
        DRAM_BANDWIDTH.add(g, help=DRAM_BANDWIDTH.help + (" (default 16, at most one beat per cycle)" if dram == "simulate"
                                                           else " (default: none, every pass's weights on chip)"))
    if dram == "simulate":
        DRAM_STALL.add(g)
        DRAM_JITTER.add(g)


# ---------------------------------------------------------------- output

OUT = Option("--out", "output folder", metavar="DIR")
JSON = Option("--json", "print one JSON object", switch=True)


def add_output_options(p, *, out: str | None, required: bool = True, metavar: str = "DIR",
                       json: str = "the result") -> None:
    """``--out`` (``out``: what it holds; ``None``: no ``--out``) and ``--json`` (``json``: what
    it prints). The path is checked in ``run`` (:mod:`.output`), after the cheaper checks."""
    if out is not None:
        replace(OUT, metavar=metavar).add(p, required=required, help=out)
    JSON.add(p, help=f"print {json} as JSON")
