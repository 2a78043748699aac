"""A network as a chain of integer layers: what the accelerator computes, layer after layer.

The float network's ONNX graph (a built-in's export, BatchNorm folded into its convs, or a
user's file) is walked once (:func:`integer_chain`) and every modelled ``Conv`` becomes a
:class:`ChainLayer` whose output, requantised on the accelerator, is the next layers' input:

* **input**: the host quantises the photo into the first layer's profiled window
  (:meth:`.network.Quant.codes`); a ``Transpose`` of the graph input that keeps the batch axis
  first (an NHWC graph's ``perm [0, 3, 1, 2]``, ResNet-50-nsfw) is the layout the host writes the
  codes in (channels, rows, columns: NM's brick layout), part of that step — quantisation is
  element-wise, so it commutes with the transpose;
* **weights**: ``W``-bit codes with one power-of-two scale per layer
  (:func:`sim.fixed.weight_codes`, the rule of every other weight code in the project);
* **bias**: in accumulator units, ``round_half_even(b / (scale_in * scale_w))``;
* **requantisation** (the accelerator's reducer, :func:`sim.chip.requant.requantize`):
  ``y = acc + bias[k] (+ residual)``, ``code = 2**lsb * round_half_even(y / 2**(shift + lsb))``
  saturated to the output window, ``shift = log2(scale_out / (scale_in * scale_w))``; an
  unsigned output window is the ReLU (a ``Clip(0, M)`` is one too when ``M`` is at or above the
  window's top value; below it, ``M / scale_out`` is the accelerator's clamp code — ReLU6 —, and
  refused when that is not a code of the window);
* **residual add** (an ``Add`` of the conv's output and a tensor already in memory):
  ``y = acc + bias[k] + (r << res_shift)`` before requantisation, ``r`` the residual tensor's
  codes (two's complement when its window is signed), ``res_shift = log2(scale_r /
  scale_acc) >= 0``; when both operands are conv outputs (ResNet's downsample branch), the one
  computed first is stored and the later conv adds it;
* **max-pool** (a ``MaxPool`` of the output): lane-wise max of the requantised codes over the
  pool window, padded positions excluded (requantisation is monotonic, so this is the
  requantised max); kernel, stride, padding and ``ceil_mode`` from the graph.

Windows. A stored tensor has one window: the profile's window of the layers that read it (a
tensor read by several layers, e.g. a ResNet block input, is stored in the finest of their
windows at the largest of their scales). A conv output read only as a residual gets the sum's
scale doubled (one more integer bit, signed when no ReLU follows) at the same real step. An output
no modelled layer reads (the network's last feature map, HED's side-output taps) is read by the
host: its scale comes from its largest value on the calibration photos (the profiling split),
:data:`HOST_HEADROOM` bits above it, the whole ``A``-bit container.

Host. Everything else in the graph runs in float on the host from the dequantised tensors
(``codes * scale``): e.g. the global average pool and classifier, HED's side outputs and fuse.
A layer the chain cannot map (a conv reading a tensor the host computed, ``Concat`` in front of
a conv, a ``Clip`` bound that is no code of the window, a non-power-of-two scale, ...) is refused in one line
naming it, before any photo is run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
import time

import numpy as np

from ..errors import ConfigError
from ..fixed import Window, weight_codes
from ..functional import conv_int
from ..layer import Layer
from ..chip.pool import PoolDescriptor, check_pool_shape, pooled_size
from ..chip.requant import requantize
from .images import take
from .fidelity import UNITS, image_scores, measure, passes, summarise, threshold
from .network import Quant
from .onnx_capture import OnnxNetwork, require_onnx
from .profile import Profile, container_scale
from .runs import as_photos

#: Bits of room above the calibration photos' largest value of a tensor only the host reads.
HOST_HEADROOM = 1
#: Calibration photos (the first of the profiling split) when none are given.
CALIBRATION_PHOTOS = 4
INPUT = "input"


def _log2(ratio: float, what: str) -> int:
    """``log2(ratio)`` when it is an integer, else a :class:`ConfigError` naming ``what``."""
    if not ratio > 0 or not math.isfinite(ratio):
        raise ConfigError(f"{what}: scale ratio {ratio!r} is not a positive number")
    e = round(math.log2(ratio))
    if 2.0 ** e != ratio:
        raise ConfigError(f"{what}: scale ratio {ratio!r} is not a power of two")
    return int(e)


@dataclass(frozen=True)
class Pool:
    """A max-pool in a layer's output path (on the requantised codes).

    Parameters
    ----------
    kernel, stride : tuple of int
        ``(kh, kw)``, ``(sy, sx)``.
    pads : tuple of int
        ``(top, left, bottom, right)``; padded positions never win.
    ceil : bool
        ``ceil_mode``: a last, partial window where it starts inside the input or its top/left
        padding.
    """

    kernel: tuple
    stride: tuple
    pads: tuple = (0, 0, 0, 0)
    ceil: bool = False

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        """Pooled height and width of an ``h x w`` map (:func:`sim.chip.pool.pooled_size`)."""
        return (pooled_size(h, self.kernel[0], self.stride[0], self.pads[0], self.pads[2], self.ceil),
                pooled_size(w, self.kernel[1], self.stride[1], self.pads[1], self.pads[3], self.ceil))

    def descriptor(self, shape: tuple, window: Window = PoolDescriptor.window, **fields) -> PoolDescriptor:
        """The accelerator's ``POOL`` command for this pool (``docs/design.md`` §10.7).

        The accelerator pads the top and left by ``pads[0]``, ``pads[1]`` and takes floor or ceil
        windows (padded positions and positions past the edge never win, so the bottom/right
        padding only sets the count): the graph's ``ceil_mode`` when that gives the graph's output
        size, else the other mode when it does (e.g. ``pads`` ``(0, 0, 1, 1)`` in floor mode is
        ceil mode without padding on an even map).

        Parameters
        ----------
        shape : (K, H, W)
            The map pooled.
        window : Window
            Its codes' window.
        fields
            ``in_base``, ``out_base``.

        Returns
        -------
        PoolDescriptor

        Raises
        ------
        ConfigError
            The accelerator cannot run it: pads it cannot express, or a limit of
            :func:`sim.chip.pool.check_pool_shape` (kernel side ≤ 15, stride ≤ 7, padding at most
            half the kernel, ...).
        """
        k, h, w = (int(v) for v in shape)
        want = self.out_size(h, w)
        for ceil in (self.ceil, not self.ceil):
            d = PoolDescriptor((k, h, w), tuple(self.kernel), tuple(self.stride), (self.pads[0], self.pads[1]),
                               window, ceil=ceil, **fields)
            if (d.oh, d.ow) == want:
                check_pool_shape(d)
                return d
        raise ConfigError(f"pads {list(self.pads)} (top, left, bottom, right) on a {h}x{w} map give "
                          f"{want[0]}x{want[1]} windows; the accelerator pads top and left only and takes "
                          f"floor or ceil windows")

    def apply(self, codes: np.ndarray) -> np.ndarray:
        """The pooled codes of ``(K, H, W)`` codes."""
        k, h, w = codes.shape
        oh, ow = self.out_size(h, w)
        (kh, kw), (sy, sx) = self.kernel, self.stride
        low = np.iinfo(np.int64).min
        ph = max((oh - 1) * sy + kh - h - self.pads[0], 0)
        pw = max((ow - 1) * sx + kw - w - self.pads[1], 0)
        x = np.full((k, h + self.pads[0] + ph, w + self.pads[1] + pw), low, dtype=np.int64)
        x[:, self.pads[0]:self.pads[0] + h, self.pads[1]:self.pads[1] + w] = codes
        out = np.full((k, oh, ow), low, dtype=np.int64)
        for dy in range(kh):
            for dx in range(kw):
                np.maximum(out, x[:, dy:dy + (oh - 1) * sy + 1:sy, dx:dx + (ow - 1) * sx + 1:sx], out=out)
        return out

    def as_dict(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride), "pads": list(self.pads),
                "ceil": self.ceil}


@dataclass(frozen=True)
class Residual:
    """The residual operand of a layer's output path.

    Parameters
    ----------
    source : str
        The layer whose stored output is added (``"input"``: the network's input codes).
    window : Window
        Its window (two's complement when signed).
    scale : float
        Its scale.
    shift : int
        ``res_shift = log2(scale / scale_acc) >= 0``: ``y = acc + bias + (r << shift)``.
    """

    source: str
    window: Window
    scale: float
    shift: int

    def as_dict(self) -> dict:
        return {"source": self.source, "msb": self.window.msb, "lsb": self.window.lsb,
                "signed": self.window.signed, "scale": self.scale, "shift": self.shift}


@dataclass(frozen=True)
class ChainLayer:
    """One conv of the chain as the accelerator runs it (the descriptor ``verify --chain`` feeds).

    Members
    -------
    name : str
    layer : Layer
        The conv's shape (its input padded by ``extra_pad`` first, as the front-end does).
    source : str
        The layer whose stored output is this one's input (``"input"``: the photo's codes).
    in_window, in_scale : Window, float
        The input codes' window and scale (the source's stored window).
    weight_scale : float
        Scale of the ``W``-bit weight codes (:func:`sim.fixed.weight_codes`).
    out_window, out_scale : Window, float
        The stored output's window and scale (unsigned: the ReLU).
    shift : int
        ``log2(out_scale / (in_scale * weight_scale))``.
    bias : ndarray (K,)
        int64, accumulator units.
    residual : Residual or None
    pool : Pool or None
    host_reads : bool
        The host reads this output (dequantised; before the pool when there is one).
    extra_pad : tuple
        ``(top, bottom, left, right)`` zero rows/columns of asymmetric padding.
    clamp : int or None
        The output's upper bound as a code (a ``Clip`` inside the window, ReLU6: ``6 / out_scale``),
        the descriptor's ``clamp`` (``docs/design.md`` §10.5).
    """

    name: str
    layer: Layer
    source: str
    in_window: Window
    in_scale: float
    weight_scale: float
    out_window: Window
    out_scale: float
    shift: int
    bias: np.ndarray = field(repr=False)
    residual: Residual | None = None
    pool: Pool | None = None
    host_reads: bool = False
    extra_pad: tuple = (0, 0, 0, 0)
    clamp: int | None = None

    def pool_descriptor(self, **fields) -> PoolDescriptor | None:
        """The ``POOL`` command of this layer's output (:meth:`Pool.descriptor`; ``fields``:
        ``in_base``, ``out_base``), ``None`` without a pool."""
        if self.pool is None:
            return None
        return self.pool.descriptor((self.layer.k, self.layer.oh, self.layer.ow), self.out_window, **fields)

    def compute(self, codes: np.ndarray, weights: np.ndarray, residual: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """The layer on the accelerator.

        Parameters
        ----------
        codes : ndarray (C, H, W)
            The input codes (the source's stored output).
        weights : ndarray (K, C/groups, kh, kw)
            The weight codes.
        residual : ndarray (K, Ho, Wo), optional
            The residual source's stored codes (with :attr:`residual`).

        Returns
        -------
        tuple of two int64 ndarrays
            The requantised codes ``(K, Ho, Wo)`` and the stored ones (pooled; the same array
            without a pool).
        """
        t, b, l, r = self.extra_pad
        if t or b or l or r:
            codes = np.pad(codes, ((0, 0), (t, b), (l, r)))
        acc = conv_int(codes, weights, self.layer)
        if self.residual is not None:
            if residual is None or residual.shape != acc.shape:
                got = None if residual is None else residual.shape
                raise ConfigError(f"layer {self.name}: residual {self.residual.source} has shape {got}, "
                                  f"the output {acc.shape}")
            acc = acc + (np.asarray(residual, dtype=np.int64) << self.residual.shift)
        out = requantize(acc, self.shift, self.out_window, self.bias, clamp=self.clamp)
        return out, (self.pool.apply(out) if self.pool is not None else out)

    def as_dict(self) -> dict:
        w = lambda win, s: {"msb": win.msb, "lsb": win.lsb, "signed": win.signed, "scale": s}
        return {"name": self.name, "layer": self.layer.describe(), "source": self.source,
                "input": w(self.in_window, self.in_scale), "output": w(self.out_window, self.out_scale),
                "weight_scale": self.weight_scale, "shift": self.shift,
                "residual": self.residual.as_dict() if self.residual else None,
                "pool": self.pool.as_dict() if self.pool else None, "host_reads": self.host_reads,
                "clamp": self.clamp}


@dataclass(frozen=True)
class ChainRun:
    """One photo through the chain.

    Members
    -------
    outputs : dict
        Layer name -> stored output codes ``(K, Ho, Wo)`` int64 (after the pool).
    unpooled : dict
        Layer name -> codes before the pool, for the layers with one.
    final : ndarray
        The last layer's stored output (the network's final feature map).
    """

    outputs: dict
    unpooled: dict
    final: np.ndarray


@dataclass
class Chain:
    """A network as integer layers (:func:`integer_chain`).

    Members
    -------
    network, target : str
    input : Quant
        How the host quantises the photo.
    layers : tuple of ChainLayer
        In execution order.
    weights : dict
        Layer name -> weight codes ``(K, C/groups, kh, kw)`` int64.
    host_tensors : dict
        Graph tensor -> ``(layer, pooled)`` the host part reads.
    host_model : onnx.ModelProto
        The host part: the graph without the chain's nodes, the host-read tensors its inputs.
    graph_input, output_name : str
    input_perm : tuple or None
        Axes of a prepared photo in the order the codes are stored (``(C, H, W)``; ``None``: as
        prepared), from a layout ``Transpose`` of the graph input.
    """

    network: str
    target: str
    input: Quant
    layers: tuple
    weights: dict = field(repr=False)
    host_tensors: dict = field(default_factory=dict)
    host_model: object = field(default=None, repr=False)
    graph_input: str = "input"
    output_name: str = "output"
    input_perm: tuple | None = None
    _session: object = field(default=None, repr=False)

    def layer(self, name: str) -> ChainLayer:
        for l in self.layers:
            if l.name == name:
                return l
        raise ConfigError(f"the chain of {self.network} has no layer {name!r}")

    def run(self, x: np.ndarray) -> ChainRun:
        """The chain on one prepared photo ``x`` (the graph input without its batch axis: ``(3, H,
        W)``, or ``(H, W, 3)`` for an NHWC graph; :meth:`.network.Network.prepare`)."""
        codes = self.input.codes(x)
        stored = {INPUT: codes if self.input_perm is None else np.ascontiguousarray(codes.transpose(self.input_perm))}
        unpooled = {}
        for l in self.layers:
            res = stored[l.residual.source] if l.residual is not None else None
            out, kept = l.compute(stored[l.source], self.weights[l.name], res)
            stored[l.name] = kept
            if l.pool is not None:
                unpooled[l.name] = out
        del stored[INPUT]
        return ChainRun(stored, unpooled, stored[self.layers[-1].name])

    def host(self, x: np.ndarray, run: ChainRun) -> np.ndarray:
        """The host part (float) on the dequantised tensors of ``run``; ``x`` the prepared photo."""
        if self._session is None:
            _, ort = require_onnx()
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(self.host_model.SerializeToString(), opts,
                                                 providers=["CPUExecutionProvider"])
        feed = {}
        names = {i.name for i in self._session.get_inputs()}
        for t, (name, pooled) in self.host_tensors.items():
            if t not in names:
                continue
            if name == INPUT:
                feed[t] = x[None].astype(np.float32)
                continue
            l = self.layer(name)
            codes = run.outputs[name] if pooled or l.pool is None else run.unpooled[name]
            feed[t] = (codes * l.out_scale).astype(np.float32)[None]
        return np.asarray(self._session.run([self.output_name], feed)[0], dtype=np.float64)

    def as_dict(self) -> dict:
        return {"network": self.network, "target": self.target,
                "input": {"msb": self.input.window.msb, "lsb": self.input.window.lsb,
                          "signed": self.input.window.signed, "scale": self.input.scale},
                "layers": [l.as_dict() for l in self.layers]}


# ------------------------------------------------------------------------------------ the walk
@dataclass
class _Open:
    """A conv whose output path is still being read from the graph."""

    index: int
    name: str
    node: object
    source: str
    relu: bool = False
    clip: float | None = None
    residual: str | None = None  # the layer whose output is added
    pool: Pool | None = None
    nodes: list = field(default_factory=list)  # graph nodes fused into it
    host_reads: bool = False
    unpooled_read: bool = False  # a modelled layer read the output before the pool


def _attr(node) -> dict:
    onnx, _ = require_onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pool_of(node, where: str) -> Pool:
    a = _attr(node)
    k = [int(v) for v in a.get("kernel_shape", [])]
    if len(k) != 2:
        raise ConfigError(f"{where}: MaxPool {node.name!r} is not a 2-d pool (kernel {k})")
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto not in ("NOTSET", "VALID"):
        raise ConfigError(f"{where}: MaxPool {node.name!r} has auto_pad {auto}, not supported by the chain")
    if any(int(d) != 1 for d in a.get("dilations", [1, 1])) or int(a.get("storage_order", 0)):
        raise ConfigError(f"{where}: MaxPool {node.name!r} is dilated or has a storage order")
    if len(node.output) > 1 and node.output[1]:
        raise ConfigError(f"{where}: MaxPool {node.name!r} also outputs indices")
    pads = tuple(int(v) for v in a.get("pads", [0, 0, 0, 0]))
    stride = tuple(int(v) for v in a.get("strides", [1, 1]))
    if any(p >= kk for p, kk in zip(pads, k + k)):
        raise ConfigError(f"{where}: MaxPool {node.name!r} pads {list(pads)} a whole kernel {k} or more")
    return Pool(tuple(k), stride, pads, bool(a.get("ceil_mode", 0)))


def _clip_bounds(net: OnnxNetwork, node) -> tuple[float, float]:
    a = _attr(node)
    lo, hi = a.get("min", -math.inf), a.get("max", math.inf)
    ins = list(node.input) + ["", ""]
    for i, default in ((1, lo), (2, hi)):
        if ins[i]:
            v = net._const(ins[i])
            if v is None:
                raise ConfigError(f"layer {node.name!r}: Clip bound {ins[i]!r} is computed, not a constant")
            if i == 1:
                lo = float(v)
            else:
                hi = float(v)
    return float(lo), float(hi)


def integer_chain(net: OnnxNetwork, profile: Profile, *, weight_bits: int = 16, calibration=None) -> Chain:
    """The network ``net`` as a chain of integer layers on ``profile`` (module docstring).

    Parameters
    ----------
    net : OnnxNetwork
        The network (a built-in loads as one with the default ``onnx`` engine).
    profile : Profile
        Its power-of-two precision profile (every layer's input window and scale).
    weight_bits : int
        ``W``: width of the weight codes.
    calibration : list of photos, optional
        Photos that set the scale of tensors only the host reads (default: the first
        :data:`CALIBRATION_PHOTOS` of the profiling split). Never the photos judged.

    Returns
    -------
    Chain

    Raises
    ------
    ConfigError
        A layer the chain cannot map, naming it and why, before any photo runs (except the
        calibration, which runs after every structural check).
    """
    if not isinstance(net, OnnxNetwork):
        raise ConfigError(f"{net.name}: the integer chain walks an ONNX graph; load the network with the "
                          f"onnx engine")
    profile.check_network(net)
    shapes = {l.name: l for l in net.layers()}
    modelled = {node.output[0]: name for name, node in net._nodes if node.op_type == "Conv"}
    g = net.model.graph
    nodes = list(g.node)
    producer = {o: n for n in nodes for o in n.output}
    readers: dict = {}
    for i, n in enumerate(nodes):
        for t in n.input:
            if t:
                readers.setdefault(t, []).append(i)
    outputs = {o.name for o in g.output}
    tensors = {net.input_name: (INPUT, False)}   # graph tensor -> (layer, pooled)
    pending: dict = {}                           # graph tensor -> _Open
    opened: list = []
    chain_nodes: set = set()
    host_read: set = set()
    conv_readers: dict = {}                      # layer -> names of the convs that read it
    layouts: dict = {}                           # graph tensor -> (node index, perm) of an input Transpose
    input_layouts: dict = {}                     # perm (None: as prepared) -> the convs reading the input so

    def finish(t):
        st = pending.pop(t)
        tensors[t] = (st.name, st.pool is not None)

    def host_reads(t):
        if t in pending:
            finish(t)
        if t in tensors:
            host_read.add(t)
            name, pooled = tensors[t]
            if name != INPUT:
                opened[[o.name for o in opened].index(name)].host_reads = True

    def sole(t):
        return len(readers.get(t, [])) == 1 and t not in outputs

    def computed_by(t):
        p = producer.get(t)
        return f"{p.op_type} node {p.name!r}" if p is not None else "a graph input"

    for i, n in enumerate(nodes):
        op = n.op_type
        ins = [t for t in n.input if t]
        if op == "Transpose" and ins and ins[0] == net.input_name:
            perm = [int(v) for v in _attr(n).get("perm", [])]
            if sorted(perm) == [0, 1, 2, 3] and perm[0] == 0:  # each photo's own layout: the host's step
                tensors[n.output[0]] = (INPUT, False)
                layouts[n.output[0]] = (i, tuple(p - 1 for p in perm[1:]))
                continue
        if op == "Conv" and n.output[0] in modelled:
            name = modelled[n.output[0]]
            src = n.input[0]
            if src in pending:
                finish(src)
            if src not in tensors:
                raise ConfigError(f"layer {name}: its input is computed on the host by {computed_by(src)} "
                                  f"({producer[src].op_type if src in producer else 'input'} is not an "
                                  f"operation of the accelerator's output path)")
            ref, pooled = tensors[src]
            if ref != INPUT:
                st = opened[[o.name for o in opened].index(ref)]
                if st.pool is not None and not pooled:
                    raise ConfigError(f"layer {name}: reads layer {ref}'s output before its max-pool, which "
                                      f"the accelerator does not store")
                if st.pool is None:
                    st.unpooled_read = True
            conv_readers.setdefault(ref, []).append(name)
            if ref == INPUT:
                input_layouts.setdefault(layouts[src][1] if src in layouts else None, []).append(name)
            st = _Open(len(opened), name, n, ref, nodes=[i])
            opened.append(st)
            pending[n.output[0]] = st
            chain_nodes.add(i)
            continue
        pend = [t for t in ins if t in pending]
        if op == "MaxPool" and not pend and ins[0] in tensors and tensors[ins[0]][0] != INPUT:
            name, pooled = tensors[ins[0]]
            st = opened[[o.name for o in opened].index(name)]
            if st.pool is None and not st.unpooled_read and not pooled:  # the host reads the unpooled map
                st.pool = _pool_of(n, f"layer {name}")
                st.nodes.append(i)
                chain_nodes.add(i)
                tensors[n.output[0]] = (name, True)
                continue
        if pend:
            t = pend[0]
            st = pending[t]
            fused = False
            if op in ("Relu", "Clip") and sole(t) and not st.relu and st.pool is None:
                if op == "Clip":
                    lo, hi = _clip_bounds(net, n)
                    if lo != 0:
                        raise ConfigError(f"layer {st.name}: Clip {n.name!r} has lower bound {lo:g}, not 0 "
                                          f"(only a ReLU is an output window)")
                    st.clip = hi
                st.relu = fused = True
            elif op == "Add" and len(ins) == 2 and not st.relu and st.pool is None and st.residual is None:
                other = ins[1] if ins[0] == t else ins[0]
                if other in pending and pending[other].index > st.index:  # the later conv adds
                    t, other = other, t
                    st = pending[t]
                if sole(t) and other != t:
                    if other in pending:
                        finish(other)
                    if other not in tensors:
                        raise ConfigError(f"layer {st.name}: adds a tensor computed on the host by "
                                          f"{computed_by(other)}")
                    src, pooled = tensors[other]
                    if src != INPUT:
                        o = opened[[x.name for x in opened].index(src)]
                        if o.pool is not None and not pooled:
                            raise ConfigError(f"layer {st.name}: adds layer {src}'s output before its max-pool")
                    st.residual = src
                    fused = True
            elif op == "MaxPool" and sole(t) and st.pool is None:
                st.pool = _pool_of(n, f"layer {st.name}")
                fused = True
            if fused:
                del pending[t]
                pending[n.output[0]] = st
                st.nodes.append(i)
                chain_nodes.add(i)
                continue
        for t in ins:  # a host operation: what it reads of the chain, the host reads
            host_reads(t)
    for t in list(pending):
        host_reads(t) if t in outputs else finish(t)
    if not opened:
        raise ConfigError(f"{net.name}: no conv layer to chain")
    if len(input_layouts) > 1:
        seen = "; ".join(f"{names[0]} {'as prepared' if p is None else f'transposed {list(p)}'}"
                         for p, names in input_layouts.items())
        raise ConfigError(f"{net.name}: convs read the input in {len(input_layouts)} layouts ({seen}); the "
                          f"accelerator stores it in one")
    input_perm = next(iter(input_layouts), None)
    for t, (i, _) in layouts.items():
        if t in host_read:    # the host computes this layout itself, from the photo
            host_read.discard(t)
            host_read.add(net.input_name)
        else:
            chain_nodes.add(i)

    # ------------------------------------------------------------------ windows, last first
    quant = profile.quant()
    stored: dict = {}  # layer -> Quant of its stored output

    def union(qs, what):
        """The finest window of several readers' at the largest of their scales."""
        top = max(q.scale for q in qs)
        msb = max(q.window.msb for q in qs)
        signed = any(q.window.signed for q in qs)
        lsb = max(0, _log2(min(q.step for q in qs) / top, what))
        return Quant(top, Window(msb, min(lsb, msb - (1 if signed else 0)), signed))

    by_name = {o.name: o for o in opened}
    adds = {o.residual: o for o in opened if o.residual is not None}
    act_bits = profile.act_bits
    need_calibration = []
    for st in reversed(opened):
        readers_q = [quant[r] for r in conv_readers.get(st.name, [])]
        if readers_q:
            q = union(readers_q, f"layer {st.name}: the windows of its readers")
            if st.relu and q.window.signed:
                q = Quant(q.scale, Window(q.window.msb, q.window.lsb, False))
            stored[st.name] = q
        elif st.name in adds and not st.host_reads:
            s = stored.get(adds[st.name].name)
            if s is None:
                raise ConfigError(f"layer {st.name}: its output is added by layer {adds[st.name].name}, "
                                  f"whose output window is not known")
            signed = not st.relu
            stored[st.name] = Quant(s.scale * (2 if signed else 1),
                                    Window(act_bits - 1, max(s.window.lsb - (1 if signed else 0), 0), signed))
        else:
            need_calibration.append(st)
    if INPUT in conv_readers:
        inq = union([quant[r] for r in conv_readers[INPUT]], "the network input")
    else:
        raise ConfigError(f"{net.name}: no layer reads the network input")
    # a Clip bounds the output: the window's saturation, or inside it a clamp code (ReLU6)
    clamps = {}
    for st in opened:
        if st.clip is not None and st.name in stored:
            clamps[st.name] = _clamp_code(st.clip, stored[st.name], st.name)

    shape_of = {INPUT: (shapes[opened[0].name].c, net.size, net.size)}  # stored tensors (after the pool)
    for st in opened:
        sl = shapes[st.name]
        oh, ow = (sl.oh, sl.ow)
        if st.pool is not None:
            try:
                oh, ow = st.pool.descriptor((sl.k, sl.oh, sl.ow)).out_shape[1:]
            except ConfigError as e:
                raise ConfigError(f"layer {st.name}: its MaxPool cannot run on the accelerator: {e}") from None
        shape_of[st.name] = (sl.k, oh, ow)

    host = _host_model(net, nodes, chain_nodes, host_read, tensors)
    weights, layers = {}, []
    scales = {INPUT: inq}
    if need_calibration:
        maxima = _calibrate(net, [_producer_tensor(st, nodes) for st in need_calibration], calibration)
        for st, m in zip(need_calibration, maxima):
            signed = not st.relu and m[1] < 0
            scale = container_scale(max(abs(m[0]), abs(m[1])) * 2.0 ** HOST_HEADROOM, signed, act_bits)
            stored[st.name] = Quant(scale, Window(act_bits - 1, 0, signed))
            if st.clip is not None:
                clamps[st.name] = _clamp_code(st.clip, stored[st.name], st.name)
    scales.update(stored)
    for st in opened:
        bias_t = st.node.input[2] if len(st.node.input) > 2 and st.node.input[2] else None
        w = net.weights(st.name)
        codes, ws = weight_codes(w, weight_bits)
        qi, qo = scales[st.source], stored[st.name]
        acc = qi.scale * ws
        shift = _log2(qo.scale / acc, f"layer {st.name}: output scale over accumulator scale")
        if shift < 0:
            raise ConfigError(f"layer {st.name}: output scale {qo.scale:g} is finer than the accumulator's "
                              f"{acc:g} (shift {shift})")
        b = net._const(bias_t) if bias_t else None
        bias = (np.rint(np.asarray(b, np.float64) / acc).astype(np.int64) if b is not None
                else np.zeros(shapes[st.name].k, np.int64))
        res = None
        if st.residual is not None:
            rq = scales[st.residual]
            rs = _log2(rq.scale / acc, f"layer {st.name}: residual scale over accumulator scale")
            if rs < 0:
                raise ConfigError(f"layer {st.name}: residual {st.residual} scale {rq.scale:g} is finer than "
                                  f"the accumulator's {acc:g} (res_shift {rs} < 0)")
            res = Residual(st.residual, rq.window, rq.scale, rs)
            have, want = shape_of[st.residual], (shapes[st.name].k, shapes[st.name].oh, shapes[st.name].ow)
            if have != want:
                raise ConfigError(f"layer {st.name}: adds {st.residual}'s output of shape {have} to its own "
                                  f"{want}; the residual add needs equal shapes")
        weights[st.name] = codes
        layers.append(ChainLayer(st.name, shapes[st.name], st.source, qi.window, qi.scale, ws, qo.window,
                                 qo.scale, shift, bias, res, st.pool, st.host_reads,
                                 tuple(net._geometry.get(st.name, (0, 0, 0, 0))), clamps.get(st.name)))
    host_tensors = {t: tensors[t] for t in host_read}
    return Chain(net.name, profile.target, inq, tuple(layers), weights, host_tensors, host,
                 net.input_name, net.output_name, input_perm)


def _clamp_code(bound: float, q: Quant, name: str) -> int | None:
    """The code of a ``Clip`` upper ``bound`` in the stored window ``q``: ``None`` when the
    window's saturation is the bound already (its top at or below the bound); else
    ``bound / scale``, which must be a code of the window (the accelerator's clamp), or a
    :class:`ConfigError` naming the layer.

    Parameters
    ----------
    bound : float
    q : Quant
    name : str
        The layer, for the message.

    Returns
    -------
    int or None
    """
    top = q.window.hi * q.scale
    if bound >= top:
        return None
    code = bound / q.scale
    if code != int(code) or int(code) % (1 << q.window.lsb) or not q.window.lo <= code:
        raise ConfigError(f"layer {name}: Clip bound {bound:g} is not a code of its output window "
                          f"(scale {q.scale:g}, lsb {q.window.lsb}: {code:g} units); the accelerator's clamp "
                          f"is a code")
    return int(code)


def _producer_tensor(st: _Open, nodes: list) -> str:
    """The graph tensor a layer's output path ends in, before its pool."""
    last = [i for i in st.nodes if nodes[i].op_type != "MaxPool"][-1]
    return nodes[last].output[0]


def _host_model(net, nodes, chain_nodes, host_read, tensors):
    """The graph without the chain's nodes; the host-read tensors become its inputs."""
    onnx, _ = require_onnx()
    h = onnx.helper
    m = onnx.ModelProto()
    m.CopyFrom(net.model)
    keep = [n for i, n in enumerate(nodes) if i not in chain_nodes]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    have = {i.name for i in m.graph.input}
    for t in sorted(host_read):
        if t not in have:
            m.graph.input.append(h.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    # inputs nothing reads any more are dropped (onnxruntime needs every input fed)
    used = {x for n in keep for x in n.input} | {o.name for o in m.graph.output}
    for i in [i for i in m.graph.input if i.name not in used]:
        m.graph.input.remove(i)
    for t in [t for t in m.graph.initializer if t.name not in used]:
        m.graph.initializer.remove(t)
    return m


def _calibrate(net, names: list, calibration) -> list:
    """``(max, min)`` of the graph tensors ``names`` over the calibration photos."""
    onnx, _ = require_onnx()
    photos = as_photos(calibration if calibration is not None else take("profile", CALIBRATION_PHOTOS))
    m = onnx.ModelProto()
    m.CopyFrom(net.model)
    have = {o.name for o in m.graph.output}
    for t in names:
        if t not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    sess = net._session(m)
    hi = np.full(len(names), -np.inf)
    lo = np.full(len(names), np.inf)
    for p in photos:
        outs = net._runs(sess, names, {net.input_name: net.prepare([p.read(net.size)])})
        hi = np.maximum(hi, [float(o.max()) for o in outs])
        lo = np.minimum(lo, [float(o.min()) for o in outs])
    return list(zip(hi, lo))


# -------------------------------------------------------------------------------- fidelity
@dataclass(frozen=True)
class ChainFidelity:
    """The integer chain against the float network on photos (the profiles' criteria).

    Members
    -------
    network, target, criterion : str
    threshold : float
    images : int
    value : float
        Fidelity of the integer chain (:func:`.fidelity.summarise`).
    passed : bool
        Whether it meets the target (:func:`.fidelity.passes`).
    profile_value : float
        Fidelity of the profile's own (float, fake-quantised) run on the same photos.
    worst : dict
        The worst photo and its score.
    photos : tuple
        Per photo: name, chain score, profile score.
    seconds : float
    """

    network: str
    target: str
    criterion: str
    threshold: float
    images: int
    value: float
    passed: bool
    profile_value: float
    worst: dict
    photos: tuple = ()
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"network": self.network, "target": self.target, "criterion": self.criterion,
                "measure": UNITS[self.criterion], "threshold": self.threshold, "images": self.images,
                "chain": self.value, "passed": self.passed, "profile": self.profile_value,
                "worst": self.worst, "photos": [dict(p) for p in self.photos],
                "seconds": round(self.seconds, 1)}


def chain_fidelity(net: OnnxNetwork, profile: Profile, chain: Chain, photos, progress=None) -> ChainFidelity:
    """Run the integer chain and its host part on ``photos`` and judge its output against the float
    network's with the profile's criterion and target; the profile's fake-quantised run on the
    same photos is measured beside it.

    Parameters
    ----------
    net, profile, chain :
        The network, its profile and :func:`integer_chain` of them.
    photos : list of photos
        Photos the profile was not searched on (the held-out split).
    progress : callable, optional
        ``progress(i, n, name)`` after each photo.
    """
    t0 = time.time()
    ps = as_photos(photos)
    if not ps:
        raise ConfigError("the chain's fidelity needs at least one photo")
    refs, outs, fakes = [], [], []
    q = profile.quant()
    for i, p in enumerate(ps):
        batch = net.prepare([p.read(net.size)])
        refs.append(net.forward(batch).output[0])
        fakes.append(net.forward(batch, quant=q).output[0])
        outs.append(chain.host(batch[0], chain.run(batch[0]))[0])
        if progress:
            progress(i + 1, len(ps), p.name)
    crit = net.criterion
    ref, out, fake = np.array(refs), np.array(outs), np.array(fakes)
    sc = image_scores(crit, measure(ref, out))
    fs = image_scores(crit, measure(ref, fake))
    value = summarise(crit, sc)
    worst = int(np.argmin(sc))
    return ChainFidelity(net.name, profile.target, crit, threshold(crit, profile.target), len(ps), value,
                         passes(crit, profile.target, value, len(ps)), summarise(crit, fs),
                         {"photo": ps[worst].name, "value": float(sc[worst])},
                         tuple((("photo", p.name), ("chain", float(a)), ("profile", float(b)))
                               for p, a, b in zip(ps, sc, fs)), time.time() - t0)


__all__ = ["Chain", "ChainLayer", "ChainRun", "ChainFidelity", "Pool", "Residual", "integer_chain",
           "chain_fidelity"]
