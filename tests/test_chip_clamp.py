"""The clamp in the accelerator's output path (ReLU6, ``docs/design.md`` §10.3, §10.5):
``code = min(requantised, clamp)`` in the golden model against brute-force loops, the
descriptor's checks and packing, and the whole chip in Amaranth's simulator — every code equal
to the model's and not one cycle more than without the clamp."""
from __future__ import annotations

import numpy as np
import pytest

from brute_chip import conv_requant
from dstripes.sim.chip import ChipConfig, DramConfig, LayerDescriptor, model_layer, requantize
from dstripes.sim.chip.descriptor import check_descriptor, descriptor_fields, descriptor_width
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.samples import load_sample
from chipsim import run_chip, words_int
from dstripes.sim.chip import LayerPlan
from dstripes.sim.chip.images import bricks_tensor, tensor_bricks, weight_beats

SMALL = TileConfig(lanes=4, columns=4, rows=4, tiles=2)
DRAM = DramConfig(latency=7, bytes_per_cycle=3.5, stall=0.3, jitter=3, seed=5)


def _conv(cfg, d, acts, weights, bias):
    """The LAYER command on the whole chip: ``(cycles, output codes)``."""
    layer = d.layer
    ins = tensor_bricks(acts, cfg)
    image = {i: words_int(r) for i, r in enumerate(ins)}
    image.update({4096 + i: words_int(r) for i, r in enumerate(weight_beats(weights, LayerPlan(layer, cfg), bias))})
    n_out = d.out_bricks(cfg)
    cmds = [("load", {"dram": 0, "nm": d.in_base, "count": len(ins)}), ("layer", {"layer": d.values(cfg)}),
            ("store", {"dram": 1 << 20, "nm": d.resolved_out_base(cfg), "count": n_out})]
    cycles, img = run_chip(cfg, cmds, DRAM, image)
    got = np.array([[img.get((1 << 20) + i, 0)] for i in range(n_out)], dtype=np.uint64)
    return cycles[1], bricks_tensor(got, (layer.k, layer.oh, layer.ow), cfg, signed=d.out_window.signed)


def chip(nm_read=2):
    return ChipConfig(scheme="dstripes", tile=SMALL, nm_read=nm_read, nm_kib=32, sb_kib=16)


@pytest.mark.parametrize("window, clamp", [(Window(14, 2), 2048), (Window(11, 1, True), 600),
                                           (Window(11, 1, True), -200), (Window(7, 0), 0)])
def test_clamped_outputs_equal_the_brute_force_loops(seed, window, clamp):
    rng = np.random.default_rng(seed)
    layer = Layer.parse("k=6,kh=3,pad=1", (5, 6, 7))
    acts = rng.integers(0, 256, size=(5, 6, 7))
    weights = rng.integers(-128, 128, size=(6, 5, 3, 3))
    bias = rng.integers(-3000, 3000, size=6)
    want = np.minimum(conv_requant(acts, weights, layer, 4, window, bias), clamp)
    d = LayerDescriptor(layer, Window(7, 0), window, shift=4, bias=True, clamp=clamp)
    run = model_layer(acts, weights, d, chip(), DRAM, bias=bias)
    assert (run.outputs == want).all()
    plain = model_layer(acts, weights, LayerDescriptor(layer, Window(7, 0), window, shift=4, bias=True), chip(),
                        DRAM, bias=bias)
    assert (plain.outputs > clamp).any()                    # the clamp bites
    assert run.cycles == plain.cycles and run.breakdown == plain.breakdown


@pytest.mark.parametrize("window, clamp, message", [
    (Window(11, 2), 8192, "not a code of the output window"),      # above the top
    (Window(11, 2), 6, "not a code of the output window"),         # not a multiple of 2**lsb
    (Window(11, 2, True), -4096, "not a code of the output window"),
    (Window(11, 2), True, "clamp must be an integer code"),
])
def test_bad_clamps_are_refused(window, clamp, message):
    d = LayerDescriptor(Layer.parse("k=4,kh=1", (4, 3, 3)), Window(7, 0), window, shift=2, clamp=clamp)
    with pytest.raises(ConfigError, match=message):
        check_descriptor(d, chip())
    with pytest.raises(ConfigError, match=message):
        requantize(np.zeros((4, 3, 3), np.int64), 2, window, clamp=clamp)


def test_the_clamp_fields_follow_the_others():
    """Appended: every earlier field keeps its bits; ``clamp_code`` holds the code's pattern (only
    the group sizes, appended later, follow it)."""
    cfg = chip()
    fields = descriptor_fields(cfg)
    names = [n for n, _ in fields]
    assert names[-4:] == ["clamp", "clamp_code", "cg", "kg"]
    layer = Layer.parse("k=4,kh=1", (4, 3, 3))
    base = LayerDescriptor(layer, Window(7, 0), Window(11, 1, True), shift=2)
    d = LayerDescriptor(layer, Window(7, 0), Window(11, 1, True), shift=2, clamp=-200)
    low = sum(b for _, b in fields[:-4])
    clamp = 1 + cfg.tile.act_bits
    assert d.pack(cfg) & ((1 << low) - 1) == base.pack(cfg) & ((1 << low) - 1)
    assert d.pack(cfg) >> low & ((1 << clamp) - 1) == 1 | ((-200 & 0xFFFF) << 1)
    assert d.pack(cfg) >> low + clamp == base.pack(cfg) >> low + clamp == 4 | 4 << 16   # cg, kg
    assert low + clamp + 32 == descriptor_width(cfg)


@pytest.mark.parametrize("spec, out_window, clamp, nm_read", [
    ("k=8,kh=3,pad=1", Window(14, 2), 24576, 1),                 # ReLU6 at 2**-12: the code of 6
    ("k=8,kh=3,pad=1,groups=8", Window(11, 3, True), -64, 2),    # depthwise, signed, a negative bound
])
def test_whole_chip_clamp_equals_the_model_in_the_same_cycles(spec, out_window, clamp, nm_read):
    acts, weights, _, window = load_sample("mobilenet_v2_dw")
    a = acts[0, :8, :5, :6]
    layer = Layer.parse(spec, a.shape)
    w = weights[:8] if layer.conv_groups > 1 else np.random.default_rng(3).integers(-300, 300, (8, 8, 3, 3))
    bias = np.random.default_rng(4).integers(-(1 << 18), 1 << 18, 8)
    cfg = chip(nm_read)
    d = LayerDescriptor(layer, window, out_window, shift=6, bias=True, w_base=4096, clamp=clamp)
    model = model_layer(a, w, d, cfg, DRAM, bias=bias)
    plain = model_layer(a, w, LayerDescriptor(layer, window, out_window, shift=6, bias=True, w_base=4096), cfg,
                        DRAM, bias=bias)
    assert (model.outputs == clamp).any() and (plain.outputs > clamp).any()
    cycles, outputs = _conv(cfg, d, a, w, bias)
    assert (outputs == model.outputs).all()
    assert cycles == model.cycles == plain.cycles
