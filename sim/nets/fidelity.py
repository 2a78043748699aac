"""How faithful a quantised network's output is to the float network's, and what is enough.

The papers profile for *accuracy*: "100 %" keeps the float network's top-1 accuracy, "99 %"
allows a 1 % relative loss. Our networks come without labelled test sets (and two are not
classifiers), so the quantised network is judged against the float network itself on the
profiling photos:

===========  ==========================================  ============  ============
criterion    per-image score                             target 100    target 99
===========  ==========================================  ============  ============
``top1``     top-1 class equals the float network's      every image   >= 99 % of images
             (classifiers: MobileNet-v2); near ties      but ties
             (:func:`ties`) are left out
``cosine``   cosine similarity of the output vectors     >= 0.999      >= 0.99
             (embeddings: ResNet-50 imgsim)              every image   every image
``psnr``     PSNR in dB, peak 1, of maps/scores in       >= 50 dB      >= 40 dB
             0..1 (HED edge map, nsfw softmax)           every image   every image
===========  ==========================================  ============  ============

Why these numbers: a cosine of 0.99 is a relative error of about 14 % of the embedding norm,
0.999 about 4.5 %; 40 dB is an RMS error of 1 % of full scale (just below what shows in an edge
map or moves an nsfw score visibly), 50 dB 0.3 %. With fewer than 100 profiling images the
``top1`` 99 target allows no disagreement (it rounds down), i.e. equals the 100 target.

The network's *fidelity* is one number per criterion: the fraction of agreeing images
(``top1``) or the worst image's score (``cosine``, ``psnr``); a larger value is always better.

The profile search asks for more than the target on its profiling photos: a *margin* in dB of
error energy (:func:`energy`, :func:`meets`), so that photos it never saw still pass. The
verdict on held-out photos is the plain criterion above. Per-image measurements of a run
(:func:`measure`) are what the run cache keeps; every criterion's score follows from them.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..checks import check_choice
from ..errors import ConfigError

CRITERIA = ("top1", "cosine", "psnr")
TARGETS = ("100", "99")

THRESHOLDS = {
    ("top1", "100"): 1.0,
    ("top1", "99"): 0.99,
    ("cosine", "100"): 0.999,
    ("cosine", "99"): 0.99,
    ("psnr", "100"): 50.0,
    ("psnr", "99"): 40.0,
}

UNITS = {"top1": "top-1 agreement", "cosine": "min cosine", "psnr": "min PSNR (dB)"}


def check_target(target) -> str:
    t = str(target)
    if t not in TARGETS:
        raise ConfigError(f"profile target must be 100 or 99, not {target!r}")
    return t


def check_criterion(criterion: str) -> str:
    """``criterion`` if it is one of :data:`CRITERIA`; else a :class:`ConfigError` listing them."""
    return check_choice("fidelity criterion", criterion, CRITERIA)


def threshold(criterion: str, target) -> float:
    """The fidelity a profile must reach for ``target`` under ``criterion``."""
    return THRESHOLDS[(check_criterion(criterion), check_target(target))]


def _outputs(ref, out) -> tuple[np.ndarray, np.ndarray]:
    """The float reference and the quantised outputs as ``(N, values)`` float64, same shape."""
    ref = np.asarray(ref, dtype=np.float64).reshape(len(ref), -1)
    out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    if ref.shape != out.shape:
        raise ConfigError(f"output shapes differ: {ref.shape} vs {out.shape}")
    return ref, out


def _psnr(mse: np.ndarray) -> np.ndarray:
    """PSNR in dB, peak 1, of mean squared errors (infinite for none)."""
    return np.where(mse > 0, -10 * np.log10(np.where(mse > 0, mse, 1)), math.inf)


def scores(criterion: str, ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Per-image scores of ``out`` against the float reference ``ref`` (both ``(N, ...)``)."""
    check_criterion(criterion)
    ref, out = _outputs(ref, out)
    if criterion == "top1":
        return (ref.argmax(axis=1) == out.argmax(axis=1)).astype(np.float64)
    if criterion == "cosine":
        num = (ref * out).sum(axis=1)
        den = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
        # two all-zero outputs agree perfectly; one all-zero output does not agree at all
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.where(
            (np.abs(ref).sum(axis=1) == 0) & (np.abs(out).sum(axis=1) == 0), 1.0, 0.0))
    return _psnr(((ref - out) ** 2).mean(axis=1))


def fidelity(criterion: str, ref: np.ndarray, out: np.ndarray) -> float:
    """Network fidelity: agreement fraction (``top1``) or worst image's score."""
    s = scores(criterion, ref, out)
    return float(s.mean() if criterion == "top1" else s.min())


def passes(criterion: str, target, value: float, images: int) -> bool:
    """Whether fidelity ``value`` on ``images`` profiling images meets ``target``."""
    t = threshold(criterion, target)
    if criterion == "top1":
        # allowed disagreements round down: 99 % of 60 images still allows none
        allowed = math.floor(images * (1 - t) + 1e-9)
        return round((1 - value) * images) <= allowed
    return value >= t


# ---------------------------------------------------------------------------------------------
# Per-image measurements of one quantised run, from which every criterion's score follows (and
# which the run cache keeps: :mod:`.cache`).
class Scores(NamedTuple):
    """One photo's measurements of a quantised run against the float output: one row of
    :func:`measure` (what the run cache keeps per photo)."""

    mse: float
    cos: float
    margin: float
    noise: float
    top: int

    @classmethod
    def of(cls, row) -> "Scores":
        """The scores of one row of :func:`measure`."""
        return cls(*map(float, row[:4]), int(row[4]))


METRICS = Scores._fields


def measure(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``(N, 5)`` per image: mean squared error, cosine, top-1 margin, top-1 noise, top-1 class.

    With ``c`` the float network's class and ``g`` its lead over the runner-up, *margin* is the
    quantised lead of ``c`` over every other class divided by ``g`` (1: unchanged, <= 0: the
    class changed) and *noise* the largest change of a lead ``q_c - q_j`` divided by ``g`` (the
    class can change only when it reaches 1).
    """
    ref, out = _outputs(ref, out)
    n = len(ref)
    res = np.zeros((n, len(METRICS)))
    res[:, 0] = ((ref - out) ** 2).mean(axis=1)
    res[:, 1] = scores("cosine", ref, out)
    rows = np.arange(n)
    c = ref.argmax(axis=1)
    if ref.shape[1] > 1:
        fl = ref[rows, c][:, None] - ref
        ql = out[rows, c][:, None] - out
        d = np.abs(ql - fl)  # zero at c itself
        fl[rows, c] = np.inf
        ql[rows, c] = np.inf
        gap = np.maximum(fl.min(axis=1), 1e-12)
        res[:, 2] = ql.min(axis=1) / gap
        res[:, 3] = d.max(axis=1) / gap
    else:
        res[:, 2], res[:, 3] = 1.0, 0.0
    res[:, 4] = out.argmax(axis=1)
    return res


def image_scores(criterion: str, m: np.ndarray) -> np.ndarray:
    """Per-image scores of :func:`scores` from :func:`measure` rows."""
    if criterion == "top1":
        return (m[:, 2] > 0).astype(np.float64)
    if criterion == "cosine":
        return m[:, 1].copy()
    check_criterion(criterion)
    return _psnr(m[:, 0])


def summarise(criterion: str, s: np.ndarray) -> float:
    """Network fidelity from per-image scores: agreement fraction (``top1``) or the worst score."""
    return float(s.mean() if criterion == "top1" else s.min())


def allowed_failures(criterion: str, target, images: int) -> int:
    """Images that may miss: a ``top1`` target below 100 % allows ``floor(N (1 - t))``."""
    if criterion != "top1":
        return 0
    return math.floor(images * (1 - threshold(criterion, target)) + 1e-9)


TIE_SHARE = 0.8
TIE_CHANGE = 0.25


def ties(criterion: str, full: np.ndarray) -> np.ndarray:
    """Photos a ``top1`` verdict cannot use: the network at full fixed-point precision (every
    layer at ``A`` bits) already moves their float top-1 lead by :data:`TIE_CHANGE` of it or
    more. Their class is decided by rounding, not by the profile: a flip there comes and goes
    as bits are added (MobileNet-v2 keeps ``opencv.rubberwhale1``, led by 0.012 logits, at 14
    and 16 bits in every layer and flips it at 15). Other criteria have no ties."""
    if criterion != "top1" or full is None:
        return np.zeros(len(full) if full is not None else 0, dtype=bool)
    return full[:, 2] < 1 - TIE_CHANGE


def energy(criterion: str, target, m: np.ndarray, margin_db: float = 0.0) -> np.ndarray:
    """Per-image error *energy* relative to what ``target`` tolerates with ``margin_db`` to spare:
    an image meets the target with that margin when its energy is at most 1.

    ``psnr``: squared error over ``10**(-(T + margin)/10)``; ``cosine``: ``1 - cos`` over
    ``(1 - t) 10**(-margin/10)``; ``top1``: the squared top-1 noise over ``10**(-margin/10)``
    (noise 1 is where the class may change; :func:`meets` judges ``top1`` by the margin itself,
    this energy only predicts it). Quantisation noise of several
    layers adds up in energy, which is what the profile search relies on.
    """
    if margin_db < 0 or not math.isfinite(margin_db):
        raise ConfigError(f"criterion margin must be a non-negative number of dB, not {margin_db!r}")
    t = threshold(criterion, target)
    k = 10 ** (-margin_db / 10)
    if criterion == "psnr":
        return m[:, 0] / (10 ** (-t / 10) * k)
    if criterion == "cosine":
        return np.maximum(1 - m[:, 1], 0) / ((1 - t) * k)
    return m[:, 3] ** 2 / k


def meets(criterion: str, target, m: np.ndarray, margin_db: float = 0.0, full: np.ndarray | None = None) -> bool:
    """Whether the run whose per-image rows are ``m`` meets ``target`` with ``margin_db`` to spare:
    every image (all but the allowed failures of a ``top1`` target below 100 %) within its
    energy; for ``top1``, the float class kept with at least ``1 - 10**(-margin/20)`` of its
    lead (no margin: plain agreement). ``full``, the rows of the network at full precision,
    caps that fraction at :data:`TIE_SHARE` of what full precision keeps: a photo whose float
    classes nearly tie keeps little of its lead even at full precision, and no profile can do
    better than that."""
    if not len(m):
        return False
    if criterion == "top1":  # the class kept, by at least a fraction of its float lead
        need = np.full(len(m), 1 - 10 ** (-margin_db / 20))
        if full is not None and margin_db > 0:
            need = np.minimum(need, TIE_SHARE * np.clip(full[:, 2], 0, None))
        ok = m[:, 2] > need
    else:
        ok = energy(criterion, target, m, margin_db) <= 1.0
    return int((~ok).sum()) <= allowed_failures(criterion, target, len(m))
