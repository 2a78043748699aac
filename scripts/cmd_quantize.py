"""``dstripes quantize``: an int8 QDQ model of a float network, calibrated on photos or sentences.

A thin wrapper over ONNX Runtime's static quantiser (QDQ format, MinMax calibration) whose
calibration data are the profiling photos (a text model's: profiling sentences) prepared exactly
as the network prepares them; the int8 model is then judged against the float network on
held-out photos or sentences (top-1 agreement, cosine, PSNR). dstripes evaluate --model
INT8.onnx counts it on its own codes.
"""
from __future__ import annotations

from dstripes.sim.table import render

from . import options
from .options import Option

ACTIVATIONS = Option("--activations", "activation code type: uint8 (zero point 0 after a ReLU) or int8 "
                                      "(default %(default)s); weights are int8", choices=("uint8", "int8"),
                     default="uint8")
PER_CHANNEL = Option("--per-channel", "one weight scale per output channel (default: one per tensor)", switch=True)
SYMMETRIC = Option("--symmetric", "symmetric activations: zero point 0 (int8) or 128 (uint8)", switch=True)
EXCLUDE = Option("--exclude", "layers to leave in float (the quantiser's nodes_to_exclude), by their names in "
                              "evaluate's tables", nargs="+", metavar="LAYER", default=[])


def register(sub) -> None:
    p = options.add_command(sub, "quantize", "an int8 QDQ model of a float network, calibrated on photos or "
                                             "sentences", __doc__.split("\n\n")[1])
    options.MODEL.add(p, required=True)
    for option in (options.SIZE, options.PREPROCESS_OPTION, options.CRITERION, options.TOKENIZER):
        option.add(p)
    options.add_photo_options(p, images=16, profiling=True, labels=False, text=True)
    options.HELDOUT.add(p)
    for option in (ACTIVATIONS, PER_CHANNEL, SYMMETRIC, EXCLUDE):
        option.add(p)
    options.add_output_options(p, out="the int8 model to write", metavar="INT8.onnx",
                               json="what was written and its fidelity")
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.nets.models import load_network
    from dstripes.sim.nets.quantize import excluded_nodes, quantize_network, write_path_ok
    from dstripes.sim.nets.texts import Sentence

    from .networks import network_names
    from .output import check_out_file, print_json
    from .photos import Count, photo_sets, tell

    args.engine = "onnx"
    network_names(args)
    write_path_ok(args.out)
    check_out_file(args.out, "--out")
    said = []
    cal, held = photo_sets(args, Count(args.images, "--images"), Count(args.heldout, "--heldout"), notes=said)
    net = load_network(args.model, size=args.size, preprocess=args.preprocess, criterion=args.criterion,
                       tokenizer=args.tokenizer)
    net.layers()
    excluded_nodes(net, args.exclude)  # every name checked before the notes and the work
    tell(said)
    res = quantize_network(net, cal, args.out, activations=args.activations, per_channel=args.per_channel,
                           symmetric=args.symmetric, heldout=held, exclude=args.exclude)
    if args.json:
        print_json(res.as_dict())
        return 0
    f = res.fidelity
    noun = "sentences" if isinstance(cal[0], Sentence) else "photos"
    rows = [["layers read through DequantizeLinear", res.layers],
            ["left in float", ", ".join(res.float_layers) or "none"],
            ["activations", f"{res.activations}{' symmetric' if res.symmetric else ''}"],
            ["weights", f"int8 {'per-channel' if res.per_channel else 'per-tensor'}"],
            [f"calibration {noun}", res.calibration_images]]
    if f is not None:
        rows += [[f"held-out {noun}", f.images]] + ([["top-1 agreement", f"{f.top1:.4f}"]] if noun == "photos" else [])
        rows += [["cosine (min / mean)", f"{f.cosine_min:.5f} / {f.cosine_mean:.5f}"],
                 ["PSNR min (dB)", f"{f.psnr_min:.2f}"]]
    print(render(["", ""], rows, title=f"{res.network}: int8 QDQ model {res.path} ({res.seconds:g} s)"))
    print(f"wrote {res.path} (count it with: dstripes evaluate --model {res.path})")
    return 0


__all__ = ["register", "run"]
