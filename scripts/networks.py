"""The networks that the network options (:func:`.options.add_network_options`) name."""
from __future__ import annotations

from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.models import BUILTIN, check_model, load_network
from dstripes.sim.nets.onnx_capture import is_int8_file


def network_names(args) -> list[str]:
    """The networks of ``--model`` (``all``: every built-in one), each checked before any
    loads (:func:`~dstripes.sim.nets.models.check_model`, with ``--engine``)."""
    models = [args.model] if isinstance(args.model, str) else args.model
    names = [n for m in models for n in (BUILTIN if m == "all" else (m,))]
    for name in names:
        check_model(name, getattr(args, "engine", "onnx"))
    return names


def refuse_int8(names: list[str], what: str) -> None:
    """Refuse an int8 QDQ model where ``what`` (a command or option) needs a float model and a
    power-of-two precision profile; the message says where int8 models do run."""
    for name in names:
        if is_int8_file(name):
            raise ConfigError(f"{name} is an int8 QDQ model, counted on its own codes: {what} takes a float model "
                              f"with a precision profile (evaluate, verify, evaluate --chip and explore run int8 "
                              f"models)")


def int8_models(names: list[str], args) -> bool:
    """Whether the networks ``names`` are int8 QDQ models (run on their own codes) rather than
    float ones with a profile, for a command that runs them all on one hardware (``evaluate
    --chip``, ``explore``): a mix (two widths) and ``--profile`` with an int8 model are refused.

    Parameters
    ----------
    names : list of str
        :func:`network_names`.
    args : Namespace
        The command's options (``--profile``).

    Returns
    -------
    bool
    """
    int8 = [n for n in names if is_int8_file(n)]
    if int8 and len(int8) < len(names):
        other = next(n for n in names if n not in int8)
        raise ConfigError(f"{int8[0]} is an int8 QDQ model (8-bit tiles) and {other} a float one (a profile's "
                          f"widths): run them apart")
    if int8 and getattr(args, "profile", None):
        raise ConfigError(f"{int8[0]} is an int8 QDQ model, counted on its own codes: --profile does not apply")
    return bool(int8)


def load(args, model: str | None = None):
    """The network ``model`` (default ``--model``) with ``--size`` and the front-end options,
    its layers found (one probe photo through it), so a layer the tool cannot model is refused
    before any work."""
    net = load_network(model or args.model, size=args.size, preprocess=args.preprocess,
                       criterion=args.criterion, engine=args.engine, tokenizer=getattr(args, "tokenizer", None))
    net.layers()
    return net
