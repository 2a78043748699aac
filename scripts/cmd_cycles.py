"""``dstripes cycles``: cycle counts of one layer under every scheme."""
from __future__ import annotations

from dstripes.sim.cycles import layer_cycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

from .options import (LAYER_HELP, WINDOW_HELP, add_tile_options, load_int_array, print_json, select_image,
                      tile_config)
from dstripes.sim.table import layer_table


def register(sub) -> None:
    p = sub.add_parser("cycles", help="cycle counts of one layer (DaDN, Stripes, Dynamic Stripes)",
                       description="Cycle counts of one layer under DaDN, Stripes and Dynamic "
                                   "Stripes, with the per-value ideal and Pragmatic-style bounds.")
    p.add_argument("--acts", required=True, metavar="ACTS.npy",
                   help="integer activation codes, (C,H,W) or (N,C,H,W); cycles summed over N")
    p.add_argument("--layer", required=True, metavar="SPEC", help=LAYER_HELP)
    p.add_argument("--window", required=True, metavar="MSB:LSB", help=WINDOW_HELP)
    p.add_argument("--signed", action="store_true", help="two's-complement activations")
    p.add_argument("--image", type=int, default=None, metavar="N",
                   help="only input N of an (N,C,H,W) file (default: all, cycles summed)")
    add_tile_options(p, hardware=False)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def input_shape(acts, fc: bool) -> tuple:
    """The ``(C, H, W)`` a layer reads from an activation array (FC: a flat input too)."""
    if acts.size == 0:
        raise ConfigError(f"activations hold no values (shape {tuple(acts.shape)})")
    if acts.ndim == 3:
        return acts.shape
    if acts.ndim == 4:
        return acts.shape[1:]
    if fc and acts.ndim in (1, 2):
        return (acts.shape[-1], 1, 1)
    raise ConfigError(f"activations must have shape (C,H,W) or (N,C,H,W), not {acts.shape}")


def run(args) -> int:
    cfg = tile_config(args)
    acts = select_image(load_int_array(args.acts, "activations"), args.image, args.acts)
    window = Window.parse(args.window, args.signed)
    layer = Layer.parse(args.layer, input_shape(acts, Layer.spec_is_fc(args.layer)))
    res = layer_cycles(acts, layer, window, cfg)
    if args.json:
        d = res.as_dict()
        d["config"] = cfg.as_dict()
        print_json(d)
    else:
        print(layer_table([res], title=f"{layer.describe()}  window [{window.msb}:{window.lsb}]"
                          f"{' signed' if window.signed else ''}, {res.images} input(s)"))
    return 0
