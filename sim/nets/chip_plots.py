"""PNG plot of an accelerator sweep (matplotlib, headless)."""
from __future__ import annotations

import os
import tempfile



def sweep_plot(points: dict, path, title: str) -> str:
    """Speed-ups against the NM read width: ``points`` is ``{nm_read: {key: speedup}}``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = sorted(points)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label in (("dstripes_over_dadn", "Dynamic Stripes / DaDN"), ("stripes_over_dadn", "Stripes / DaDN"),
                       ("dstripes_over_stripes", "Dynamic Stripes / Stripes")):
        ax.plot(xs, [points[x][key] for x in xs], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    ax.set_xticklabels([str(x) for x in xs])
    ax.set_xlabel("NM read width (bricks per cycle)")
    ax.set_ylabel("speed-up (whole conv layers, with memory stalls)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(str(path)))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=d)
    os.close(fd)
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return str(path)
