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
                              f"with a precision profile (evaluate and verify run int8 models on the tile)")


def load(args, model: str | None = None):
    """The network ``model`` (default ``--model``) with ``--size`` and the front-end options,
    its layers found (one probe photo through it), so a layer the tool cannot model is refused
    before any work."""
    net = load_network(model or args.model, size=args.size, preprocess=args.preprocess,
                       criterion=args.criterion, engine=args.engine, tokenizer=getattr(args, "tokenizer", None))
    net.layers()
    return net
