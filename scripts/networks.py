"""The networks that the network options (:func:`.options.add_network_options`) name."""
from __future__ import annotations

from dstripes.sim.nets.models import BUILTIN, check_model, load_network


def network_names(args) -> list[str]:
    """The networks of ``--model`` (``all``: every built-in one), each checked before any
    loads (:func:`~dstripes.sim.nets.models.check_model`, with ``--engine``)."""
    models = [args.model] if isinstance(args.model, str) else args.model
    names = [n for m in models for n in (BUILTIN if m == "all" else (m,))]
    for name in names:
        check_model(name, getattr(args, "engine", "onnx"))
    return names


def load(args, model: str | None = None):
    """The network ``model`` (default ``--model``) with ``--size`` and the front-end options."""
    return load_network(model or args.model, size=args.size, preprocess=args.preprocess,
                        criterion=args.criterion, engine=args.engine)
