"""The accelerator on the fast path (Verilator; ``tb/host/chip_path.py``): real conv layers of VGG-16,
MobileNet-v2 and ResNet-50 run from memory on T = 2 tiles of 4x4x4, under random off-chip
latency and back-pressure, for ``nm_read`` 1, 2 and 4 (= Nc): every output code equal to the
model's, the ``LAYER`` command's cycles equal to the model's exactly. A corrupted expected
output and a corrupted expected cycle count are each reported precisely."""
from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip import ChipConfig, DramConfig, LayerDescriptor, LayerPlan
from dstripes.sim.config import TileConfig
from dstripes.sim.tile_run import step_costs
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.samples import load_sample
from dstripes.tb.host.chip_path import chip_run, simulate_chip

SMALL = TileConfig(lanes=4, columns=4, rows=4, tiles=2)


@functools.lru_cache(maxsize=None)
def design(scheme: str, nm_read: int, tile: TileConfig = SMALL) -> ChipDesign:
    return ChipDesign.of(ChipConfig(scheme=scheme, tile=tile, nm_read=nm_read, nm_kib=128, sb_kib=96))


def run(scheme, nm_read, layer, window, acts, weights, *, out_window=Window(15, 5), shift=12, bias=None,
        dram=DramConfig(latency=40, bytes_per_cycle=6, stall=0.3, jitter=15, seed=1), w0_loaded=False,
        tile=SMALL, **kw):
    d = design(scheme, nm_read, tile)
    mode = "leading" if scheme == "dstripes" else "static"
    desc = LayerDescriptor(layer, window, out_window, shift=shift, bias=bias is not None, mode=mode,
                           w_base=1 << 14, w0_loaded=w0_loaded)
    plan = chip_run(d.chip, desc, acts, weights, dram=dram, bias=bias)
    return simulate_chip(d, plan, quick=True, **kw), plan


def exact(result):
    assert result.passed, result.verdict.message()
    assert result.mismatches == 0 and result.checked == result.outputs.size > 0
    assert result.cycles_rtl == result.cycles_model


def test_vgg16_3x3_nm_read_1_with_bias():
    """VGG-16 conv3_1 (bundled real activations and weights): 32 of its channels, 16 filters."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w = acts[0, :32], weights[:16, :32]
    layer = Layer.parse("k=16,kh=3,pad=1", a.shape)
    bias = np.random.default_rng(3).integers(-(1 << 18), 1 << 18, 16)
    result, plan = run("dstripes", 1, layer, window, a, w, bias=bias)
    exact(result)
    assert result.breakdown["nm_stall"] > 0            # one brick per cycle is too few for 4 columns


def test_vgg16_conv5_nm_read_2():
    """VGG-16 conv5_1 (512 channels, 4x4): 1,152 steps per window-set."""
    acts, weights, layer, window = load_sample("vgg16_conv5_1")
    result, _ = run("dstripes", 2, layer, window, acts[1], weights)
    exact(result)


def test_mobilenet_v2_depthwise_signed_output():
    """MobileNet-v2's depthwise 3x3 (16 of its 144 groups, each a pass of one filter), biases,
    a signed output window."""
    acts, weights, _, window = load_sample("mobilenet_v2_dw")
    a, w = acts[0, :16], weights[:16]
    layer = Layer.parse("k=16,kh=3,pad=1,groups=16", a.shape)
    bias = np.random.default_rng(4).integers(-(1 << 16), 1 << 16, 16)
    result, _ = run("dstripes", 2, layer, window, a, w, bias=bias, out_window=Window(11, 2, True), shift=8)
    exact(result)


def test_ideal_memory_is_the_tile_model_plus_constants():
    """nm_read = Nc, pass 0's weights already in SB (a prefetch command before), one pass: the
    LAYER command's RTL cycles are the tile's RTL-exact count plus 2 + the last write-back + 2."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w = acts[0, :16, :12, :12], weights[:8, :16]
    layer = Layer.parse("k=8,kh=3,pad=1", a.shape)
    result, plan = run("dstripes", 4, layer, window, a, w, w0_loaded=True)
    exact(result)
    chip = design("dstripes", 4).chip
    tile_model = int(step_costs(a, layer, window, chip.tile).sum()) + 4
    last = int(LayerPlan(layer, chip).write_cycles(LayerPlan(layer, chip).passes[0])[-1])
    assert result.cycles_rtl == tile_model + 2 + last + 2
    assert [c["command"] for c in result.commands] == ["load", "layer", "layer", "store"]


@pytest.mark.parametrize("scheme, nm_read", [("stripes", 2), ("dadn", 1)])
def test_stripes_and_bit_parallel_chips(scheme, nm_read):
    """The other tile kinds: VGG-16 conv3_1 with stride 2 (Stripes), and as it is (bit-parallel)."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w = acts[1, :16], weights[:8, :16]
    spec = "k=8,kh=3,stride=2,pad=1" if scheme == "stripes" else "k=8,kh=3,pad=1"
    result, _ = run(scheme, nm_read, Layer.parse(spec, a.shape), window, a, w)
    exact(result)


@pytest.mark.parametrize("group, run_ahead, nm_read", [(1, 1, 1), (2, 2, 2), (1, 2, 4)])
def test_runahead_tile_vgg16_3x3(group, run_ahead, nm_read):
    """The run-ahead Dynamic Stripes tile (precision groups up to ``R`` steps apart) in the
    accelerator: VGG-16 conv3_1 (16 channels, two passes of 8 filters, biases) under NM stalls
    and random off-chip latency and back-pressure."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w = acts[0, :16, :10, :12], weights[:16, :16]
    layer = Layer.parse("k=16,kh=3,pad=1", a.shape)
    bias = np.random.default_rng(5).integers(-(1 << 18), 1 << 18, 16)
    tile = replace(SMALL, group=group, run_ahead=run_ahead)
    result, _ = run("dstripes", nm_read, layer, window, a, w, bias=bias, tile=tile)
    exact(result)
    if nm_read == 1:
        assert result.breakdown["nm_stall"] > 0


@pytest.mark.parametrize("run_ahead, nm_read", [(2, 4), (1, 1)])
def test_runahead_tile_depthwise_and_1x1(run_ahead, nm_read):
    """The run-ahead tile on MobileNet-v2's depthwise 3x3 (16 groups, a pass each, signed output)
    and on a 1x1 layer of one channel block (one step per window-set <= R: the result staging
    bites), VGG-16 conv5_1's real activations."""
    tile = replace(SMALL, group=1, run_ahead=run_ahead)
    acts, weights, _, window = load_sample("mobilenet_v2_dw")
    a, w = acts[0, :16], weights[:16]
    layer = Layer.parse("k=16,kh=3,pad=1,groups=16", a.shape)
    result, _ = run("dstripes", nm_read, layer, window, a, w, out_window=Window(11, 2, True), shift=8, tile=tile)
    exact(result)
    acts, weights, _, window = load_sample("vgg16_conv5_1")
    a, w = acts[0, :4], weights[:8, :4, 1:2, 1:2]
    result, _ = run("dstripes", nm_read, Layer.parse("k=8,kh=1", a.shape), window, a, w, tile=tile)
    exact(result)


def test_runahead_corrupted_cycle_count_is_caught():
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w = acts[0, :8, :6, :6], weights[:8, :8]
    result, _ = run("dstripes", 1, Layer.parse("k=8,kh=3,pad=1", a.shape), window, a, w,
                    tile=replace(SMALL, group=1, run_ahead=1), tamper={"cycles": 1})
    assert not result.passed
    failures = result.verdict.failures
    assert len(failures) == 1 and "cycles exact" in failures[0], failures
    assert f"RTL {result.cycles_rtl}, model {result.cycles_rtl + 1}" in failures[0]


@pytest.mark.parametrize("tamper, needle", [
    ({"output": (5, 2, 3)}, "first at filter 5, (y, x) = (2, 3)"),
    ({"cycles": 1}, "cycles exact"),
])
def test_a_corrupted_expectation_is_caught_and_named(tamper, needle):
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w = acts[0, :8, :6, :6], weights[:8, :8]
    result, plan = run("dstripes", 1, Layer.parse("k=8,kh=3,pad=1", a.shape), window, a, w, tamper=tamper)
    assert not result.passed
    failures = result.verdict.failures
    assert len(failures) == 1 and needle in failures[0], failures
    if "output" in tamper:
        assert result.mismatches == 1 and result.first_mismatch["expected"] == result.first_mismatch["got"] + 1
    else:
        assert f"RTL {result.cycles_rtl}, model {result.cycles_rtl + 1}" in failures[0]


@pytest.mark.nets
def test_resnet50_stride_2_and_1x1_layers():
    """ResNet-50 (imgsim) on one held-out photo at 16x16: the 7x7 stride-2 first layer (signed
    input), a 1x1 layer and a 1x1 stride-2 downsample, nm_read = Nc."""
    from dstripes.sim.fixed import weight_codes
    from dstripes.sim.nets.images import load_images
    from dstripes.sim.nets.models import load_network
    from dstripes.sim.nets.profile import Profile, builtin_profile_path
    from dstripes.sim.nets.chip_eval import capture_codes

    names = ["conv1", "layer1.0.conv1", "layer2.0.downsample.0"]
    net = load_network("resnet50-imgsim", size=16)
    prof = Profile.load(builtin_profile_path("resnet50-imgsim", "100"))
    codes = capture_codes(net, prof, load_images("heldout", 1))
    layers = {l.name: l for l in net.layers()}
    for name in names:
        layer = layers[name]
        k = min(layer.k, 16)                            # the first 16 filters (two passes of 8)
        sub = Layer(layer.c, layer.h, layer.w, k, layer.kh, layer.kw, layer.sy, layer.sx, layer.py, layer.px,
                    name=name)
        w = weight_codes(net.weights(name), 16)[0][:k]
        result, _ = run("dstripes", 4, sub, prof.layer(name).window, codes[name][0], w)
        exact(result)
