"""What every network front-end provides: layer shapes, captured inputs, quantised runs.

A front-end (:mod:`.torch_capture`, :mod:`.onnx_capture`) wraps one model and exposes its
conv/FC layers as :class:`sim.layer.Layer` shapes, in execution order. For a batch of images it
returns the network output and, on request, the *input* activations of every layer (float,
``(N, C, H, W)``; FC inputs as ``(N, C, 1, 1)``), already laid out as the layer reads them.

Profiling needs runs where chosen layers see quantised inputs: :meth:`Network.forward` takes
``quant``, a mapping from layer name to :class:`Quant`, and replaces each such layer's input
``x`` by ``quantize(x, scale, window) * scale`` inside the network (the other layers stay in
float). A tensor read by two layers (a ResNet block input feeds both ``conv1`` and the
downsample conv) is quantised separately for each reader, because precision is a property of a
layer's input in Stripes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..fixed import Window, check_scale, quantize
from ..layer import Layer
from .fidelity import check_criterion
from .images import normalise, resize_crop


@dataclass(frozen=True)
class Quant:
    """Fake quantisation of one layer's input: codes are ``value / scale`` in ``window``.

    Parameters
    ----------
    scale : float
        Real value of code 1, a positive finite number (a power of two in a profile).
    window : Window
        The codes' window.
    """

    scale: float
    window: Window
    #: Whether each token takes its own scale at run time (:class:`.int8_study.TokenQuant`), not
    #: :attr:`scale`: a network run computes the step per token (a text network's only).
    per_token = False

    def __post_init__(self):
        check_scale(self.scale)
        if not isinstance(self.window, Window):
            raise TypeError(f"window must be a sim.fixed.Window, not {self.window!r}")

    @property
    def step(self) -> float:
        """Real value of the window's least significant bit."""
        return self.scale * (1 << self.window.lsb)

    @property
    def limits(self) -> tuple[float, float]:
        """Smallest and largest code in units of :attr:`step` (saturation bounds)."""
        unit = 1 << self.window.lsb
        return self.window.lo / unit, self.window.hi / unit

    def codes(self, x: np.ndarray) -> np.ndarray:
        """Integer codes of real values (:func:`sim.fixed.quantize`)."""
        return quantize(x, self.scale, self.window)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Real values after quantisation (what the quantised network computes with)."""
        return (self.codes(x) * self.scale).astype(np.float32)


@dataclass(frozen=True)
class Output:
    """One forward pass: ``output`` (N, ...) float64 and ``acts`` name -> float32 inputs."""

    output: np.ndarray
    acts: dict


class Network:
    """Base class of the front-ends.

    Parameters
    ----------
    name : str
        Network name used in reports.
    criterion : str
        Fidelity criterion of its output (see :mod:`.fidelity`).
    size : int
        Input height and width in pixels.
    preprocess : str
        Input normalisation (:data:`.images.PREPROCESS`).
    """

    #: one-line description of where the model and its weights come from
    source = ""

    def __init__(self, name: str, criterion: str, size: int, preprocess: str):
        check_criterion(criterion)
        if not isinstance(size, int) or isinstance(size, bool) or size < 8:
            raise ConfigError(f"input size must be an integer of at least 8 pixels, not {size!r}")
        normalise(np.zeros((1, 1, 3), np.float32), preprocess)  # validates the name
        self.name, self.criterion, self.size, self.preprocess = name, criterion, size, preprocess
        self._layers: list[Layer] | None = None

    # -- to be provided by a front-end ---------------------------------------------------
    def _run(self, batch: np.ndarray, quant: dict, capture: bool) -> Output:
        raise NotImplementedError

    def _layout(self, x: np.ndarray) -> np.ndarray:
        """Turn ``(N, H, W, 3)`` normalised images into the model's input layout."""
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    # -- common API -----------------------------------------------------------------------
    def prepare(self, images) -> np.ndarray:
        """Model input batch of RGB uint8 images (any size; resized and centre-cropped)."""
        x = np.stack([normalise(resize_crop(im, self.size), self.preprocess) for im in images])
        return self._layout(x.astype(np.float32))

    def forward(self, batch: np.ndarray, quant: dict | None = None, capture: bool = False) -> Output:
        """Run a prepared batch; ``quant`` maps layer names to :class:`Quant`."""
        quant = dict(quant or {})
        unknown = set(quant) - set(self.layer_names())
        if unknown:
            raise ConfigError(f"network {self.name} has no layer {sorted(unknown)[0]!r}")
        return self._run(batch, quant, capture)

    def layers(self) -> list[Layer]:
        """Shapes of the modelled conv/FC layers (named) in execution order at :attr:`size`."""
        if self._layers is None:
            probe = self.prepare([np.full((self.size, self.size, 3), 128, np.uint8)])
            self._layers = self._discover(probe)
        return list(self._layers)

    def weights(self, name: str) -> np.ndarray:
        """A layer's float weights, ``(K, C/groups, kh, kw)`` (FC: ``(K, C)``)."""
        raise NotImplementedError

    def input_weights(self, name: str, batch: np.ndarray) -> np.ndarray:
        """The weights layer ``name`` applies to each input of a prepared ``batch``, ``(N, ...)``:
        a CNN's are constant (:meth:`weights` repeated); a transformer's attention products take
        their weights from each sentence (:meth:`.transformer.TextNetwork.input_weights`)."""
        return np.repeat(self.weights(name)[None], len(batch), axis=0)

    def weights_per_input(self, name: str) -> bool:
        """Whether layer ``name``'s weights change with every input (:meth:`input_weights`)."""
        return False

    def layer_names(self) -> list[str]:
        return [l.name for l in self.layers()]

    def _discover(self, probe: np.ndarray) -> list[Layer]:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name}: {len(self.layers())} layers, {self.size}x{self.size} input, {self.source}"
