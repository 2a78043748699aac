"""PyTorch front-end: layer shapes and input activations through forward pre-hooks.

Every ``nn.Conv2d`` (dilated ones included) and ``nn.Linear`` the model calls (or the subset chosen by ``select``) is a
layer. Shapes come from the module's parameters and the input it actually receives, so any
input size works; the layer order is the order of the calls in one forward pass (a ResNet's
downsample conv runs before the block's ``conv1`` when the model's ``forward`` says so).
"""
from __future__ import annotations

import io
import warnings

import numpy as np

from ..errors import ConfigError
from ..layer import Layer
from .network import Network, Output
from .onnx_capture import OnnxNetwork, require_onnx


def require_torch():
    """The ``torch`` module, or a :class:`ConfigError` saying how to install it (the ``nets``
    extra)."""
    try:
        import torch
    except ImportError:
        raise ConfigError("PyTorch is not installed (pip install -e '.[nets]')") from None
    return torch


def layer_of(module, in_shape: tuple, name: str) -> Layer:
    """The :class:`Layer` a ``Conv2d`` or ``Linear`` applies to an input of ``in_shape`` (N, ...)."""
    nn = require_torch().nn
    if isinstance(module, nn.Linear):
        if len(in_shape) != 2:
            raise ConfigError(f"layer {name}: a Linear layer on a {len(in_shape)}-d input "
                              f"{tuple(in_shape)} is not a fully-connected layer on one vector")
        return Layer(module.in_features, 1, 1, module.out_features, fc=True, name=name)
    if not isinstance(module, nn.Conv2d):
        raise ConfigError(f"layer {name}: {type(module).__name__} is neither Conv2d nor Linear")
    if module.padding_mode != "zeros":
        raise ConfigError(f"layer {name}: padding mode {module.padding_mode!r} is not modelled (only zeros)")
    _, c, h, w = in_shape
    kh, kw = module.kernel_size
    sy, sx = module.stride
    dy, dx = module.dilation
    pad = module.padding
    if pad == "valid":
        pad = (0, 0)
    elif pad == "same":
        # PyTorch pads the dilated kernel's extent minus one in total, the odd one at the end
        total = (dy * (kh - 1), dx * (kw - 1))
        if total[0] % 2 or total[1] % 2:
            raise ConfigError(f"layer {name}: 'same' padding of a kernel {kh}x{kw} dilated "
                              f"{dy}x{dx} is asymmetric")
        pad = (total[0] // 2, total[1] // 2)
    return Layer(c, h, w, module.out_channels, kh, kw, sy, sx, pad[0], pad[1],
                 conv_groups=module.groups, name=name, dy=dy, dx=dx)


def module_path(node_name: str) -> str:
    """Module path of a node exported by the TorchScript exporter from a model wrapped as
    ``model``: ``/model/layer1/layer1.0/downsample/downsample.0/Conv`` ->
    ``layer1.0.downsample.0``. A scope segment repeats its container's name as a prefix
    (``layer1`` then ``layer1.0``), so a segment that prefixes the next one is dropped."""
    segs = node_name.strip("/").split("/")[1:-1]  # drop the wrapper and the op
    kept = [s for i, s in enumerate(segs) if not (i + 1 < len(segs) and segs[i + 1].startswith(s + "."))]
    return ".".join(kept)


class TorchNetwork(Network):
    """A PyTorch model as a network front-end.

    Parameters
    ----------
    model : torch.nn.Module
        The model; put in eval mode. ``model(x)`` takes an ``(N, 3, H, W)`` float tensor.
    name, criterion, size, preprocess
        See :class:`.network.Network`.
    select : callable, optional
        ``select(module_name) -> bool``: which Conv2d/Linear modules are modelled (default all);
        the others run in float and are not reported.
    postprocess : callable, optional
        Maps the model's output tensor to the output the fidelity criterion judges.
    rename : dict, optional
        Report names of modules (module name -> layer name); default the module name.
    source : str
        Where the model and weights come from.
    """

    def __init__(self, model, name: str, criterion: str, size: int, preprocess: str,
                 select=None, postprocess=None, source: str = "", rename: dict | None = None):
        super().__init__(name, criterion, size, preprocess)
        torch = require_torch()
        self.model = model.eval()
        self.postprocess = postprocess
        self.source = source or f"PyTorch model {type(model).__name__}"
        kinds = (torch.nn.Conv2d, torch.nn.Linear)
        rename = rename or {}
        chosen = [(n, m) for n, m in model.named_modules()
                  if isinstance(m, kinds) and (select is None or select(n))]
        self._modules = [(rename.get(n, n), m) for n, m in chosen]
        self._paths = {n: rename.get(n, n) for n, _ in chosen}  # module path -> layer name
        if not self._modules:
            raise ConfigError(f"network {name} has no Conv2d or Linear layer to model")

    def _discover(self, probe):
        torch = require_torch()
        calls = []
        hooks = [m.register_forward_pre_hook(lambda mod, args, n=n: calls.append((n, mod, tuple(args[0].shape))))
                 for n, m in self._modules]
        try:
            with torch.no_grad():
                self.model(torch.from_numpy(probe))
        finally:
            for h in hooks:
                h.remove()
        seen = set()
        for n, _, _ in calls:
            if n in seen:
                raise ConfigError(f"layer {n} is called more than once per forward pass; shared "
                                  f"modules are not modelled")
            seen.add(n)
        return [layer_of(m, shape, n) for n, m, shape in calls]

    def _run(self, batch, quant, capture):
        torch = require_torch()
        acts = {}
        modules = dict(self._modules)

        def hook(mod, args, name):
            x = args[0]
            if capture:
                a = x.detach().numpy().astype(np.float32, copy=True)
                acts[name] = a.reshape(a.shape[0], -1, 1, 1) if a.ndim == 2 else a
            q = quant.get(name)
            if q is None:
                return None
            lo, hi = q.limits
            # Power-of-two steps make x/step and the product exact in float32, so this equals
            # sim.fixed.quantize (round-half-even, saturating) times the scale.
            y = torch.clamp(torch.round(x / q.step), lo, hi) * q.step
            return (y,) + tuple(args[1:])

        hooks = [modules[l.name].register_forward_pre_hook(lambda m, a, n=l.name: hook(m, a, n))
                 for l in self.layers()]
        try:
            with torch.no_grad():
                out = self.model(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
                if self.postprocess is not None:
                    out = self.postprocess(out)
        finally:
            for h in hooks:
                h.remove()
        return Output(out.detach().numpy().astype(np.float64), acts)

    def weights(self, name: str) -> np.ndarray:
        """Float weights of a layer, ``(K, C/groups, kh, kw)`` (FC: ``(K, C)``)."""
        modules = dict(self._modules)
        if name not in modules:
            raise ConfigError(f"network {self.name} has no layer {name!r}")
        return modules[name].weight.detach().numpy().astype(np.float32)

    def to_onnx(self, opset: int = 17):
        """The same network exported to ONNX (in memory) and wrapped by the ONNX front-end.

        onnxruntime runs these CNNs 2-10x faster than eager PyTorch on a small CPU (depthwise
        convolutions most of all), so the built-in networks are profiled and evaluated this way.
        Uses the TorchScript exporter (``dynamo=False``): the default exporter needs
        ``onnxscript``, which the project does not depend on. Eval-mode export folds
        BatchNorm into the preceding conv, so activations match the eager model up to float
        rounding. Layers keep their PyTorch names; the export is checked to give the same
        layer shapes.
        """
        torch = require_torch()
        onnx, _ = require_onnx()
        post = self.postprocess

        class Head(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, x):
                y = self.model(x)
                return post(y) if post is not None else y

        probe = torch.from_numpy(self.prepare([np.full((self.size, self.size, 3), 128, np.uint8)]))
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Head(self.model).eval(), (probe,), buf, dynamo=False, opset_version=opset,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        paths = self._paths

        def rename(node_name: str):
            return paths.get(module_path(node_name))

        net = OnnxNetwork(onnx.load_from_string(buf.getvalue()), name=self.name, criterion=self.criterion,
                          size=self.size, preprocess=self.preprocess, rename=rename)
        net.source = self.source
        mine = [(l.name, l.describe()) for l in self.layers()]
        theirs = [(l.name, l.describe()) for l in net.layers()]
        if mine != theirs:
            diff = next((a, b) for a, b in zip(mine + [None] * len(theirs), theirs + [None] * len(mine)) if a != b)
            raise ConfigError(f"ONNX export of {self.name} changed the layers: {diff[0]} became {diff[1]}")
        return net
