"""``dstripes cycles``: cycle counts of one layer under every scheme.

Cycle counts of one layer under DaDN, Stripes and Dynamic Stripes, with the per-value ideal and
Pragmatic-style bounds.
"""
from __future__ import annotations

from . import options


def register(sub) -> None:
    p = options.add_command(sub, "cycles", "cycle counts of one layer (DaDN, Stripes, Dynamic Stripes)",
                            __doc__.split("\n\n")[1])
    options.add_layer_options(p, images="all, cycles summed")
    options.add_tile_options(p, hardware=False)
    options.add_output_options(p, out=None)
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.cycles import layer_cycles
    from dstripes.sim.fixed import Window
    from dstripes.sim.layer import Layer
    from dstripes.sim.table import layer_table

    from .arrays import input_shape, load_int_array, select_image
    from .output import print_json
    from .tiles import tile_config

    cfg = tile_config(args)
    acts = select_image(load_int_array(args.acts, "activations"), args.image, args.acts)
    window = Window.parse(args.window, args.signed)
    layer = Layer.parse(args.layer, input_shape(acts, Layer.spec_is_fc(args.layer)))
    res = layer_cycles(acts, layer, window, cfg)
    if args.json:
        print_json({**res.as_dict(), "config": cfg.as_dict()})
    else:
        print(layer_table([res], title=f"{layer.describe()}  window [{window.msb}:{window.lsb}]"
                          f"{' signed' if window.signed else ''}, {res.images} input(s)"))
    return 0
