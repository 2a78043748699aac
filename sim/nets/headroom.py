"""The search's room rules: how much headroom a profile leaves above the activations it saw,
and the criterion margin it keeps (read by the profile search and by the command line, which
checks the values as they parse; no network or cluster is needed to read them)."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

AUTO_PHOTOS = 1000
AUTO_Z = 3.09  # the normal quantile of 1 - 1/AUTO_PHOTOS
# Criterion margin of the search, per criterion (dB of error energy). Top-1 agreement needs the
# most: a held-out photo's float lead can be smaller than every profiling photo's (MobileNet-v2
# has a held-out photo led by 0.012 logits), and the quantisation noise differs between photos
# by a factor of 2-3 (scripts/make/profiles.py --levers measures it).
DEFAULT_MARGIN_DB = {"top1": 10.0, "cosine": 3.0, "psnr": 3.0}
DEFAULT_HEADROOM = "auto"


def headroom_bits(maxima: np.ndarray, headroom) -> np.ndarray:
    """Per-layer headroom (bits above the largest value seen) from per-photo maxima ``(N, L)``.

    A number gives every layer that many bits. ``"auto"`` extrapolates each layer's per-photo
    maxima: ``log2`` of them is taken as normal, and the layer gets room up to its
    1-in-:data:`AUTO_PHOTOS` photo maximum (mean + 3.09 standard deviations) where that lies
    above the largest value seen. ``"auto+B"`` adds ``B`` bits to that.
    """
    L = maxima.shape[1]
    if isinstance(headroom, str):
        base, _, extra = headroom.partition("+")
        try:
            extra = float(extra) if extra else 0.0
        except ValueError:
            extra = -1.0
        if base != "auto" or not 0 <= extra <= 8:
            raise ConfigError(f"headroom must be a number of bits, 'auto' or 'auto+BITS', not {headroom!r}")
        lg = np.log2(np.maximum(maxima, 1e-30))
        if len(lg) < 2:
            return np.full(L, extra)
        pred = lg.mean(0) + AUTO_Z * lg.std(0, ddof=1)
        return np.clip(pred - lg.max(0), 0, None) + extra
    try:
        h = float(headroom)
    except (TypeError, ValueError):
        raise ConfigError(f"headroom must be a number of bits or 'auto', not {headroom!r}") from None
    if not 0 <= h <= 8:
        raise ConfigError(f"headroom must be between 0 and 8 bits, not {headroom!r}")
    return np.full(L, h)
