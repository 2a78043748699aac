"""The accelerator's output path on the fast path (Verilator; ``tb/host/chip_path.py``): the
residual add (a ResNet-50 bottleneck block's last 1x1 conv with its shortcut, in place and
apart) and the ``POOL`` command (VGG-16's 2x2/2, ResNet-50's 3x3/2 pad 1 stem pool) on T = 2
tiles of 4x4x4, under random off-chip latency and back-pressure, for ``nm_read`` 1 and 4 (= Nc):
every output code and the command's cycles equal to the model's; corrupted expectations caught."""
from __future__ import annotations

import functools

import numpy as np
import pytest

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip import ChipConfig, DramConfig, LayerDescriptor
from dstripes.sim.chip.pool import PoolDescriptor
from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.samples import load_sample
from dstripes.tb.host.chip_path import chip_run, pool_run, simulate_chip

SMALL = TileConfig(lanes=4, columns=4, rows=4, tiles=2)
DRAM = DramConfig(latency=40, bytes_per_cycle=6, stall=0.3, jitter=15, seed=1)


@functools.lru_cache(maxsize=None)
def design(nm_read: int) -> ChipDesign:
    return ChipDesign.of(ChipConfig(scheme="dstripes", tile=SMALL, nm_read=nm_read, nm_kib=128, sb_kib=96))


def exact(result):
    assert result.passed, result.verdict.message()
    assert result.mismatches == 0 and result.checked == result.outputs.size > 0
    assert result.cycles_rtl == result.cycles_model


def bottleneck(nm_read, in_place, **kw):
    """ResNet-50's bottleneck conv3 (1x1, 64 channels in; 32 of its 256 filters) on the bundled
    real VGG-16 conv3_1 activations at 8x8, its shortcut (real conv1_2 activations) added with
    ``res_shift`` 12 (the output's scale) before the ReLU, in place of the output or apart from it."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w, r = acts[0, :64, :8, :8], weights[:32, :64, 1:2, 1:2], load_sample("vgg16_conv1_2")[0][1, :32, :8, :8]
    layer = Layer.parse("k=32,kh=1", a.shape)
    chip = design(nm_read).chip
    base = LayerDescriptor(layer, window, Window(15, 5), shift=12, w_base=1 << 14)
    out = base.resolved_out_base(chip)
    res_base = out if in_place else out + base.out_bricks(chip) + 5
    desc = LayerDescriptor(layer, window, Window(15, 5), shift=12, w_base=1 << 14, residual=window, res_shift=12,
                           res_base=res_base)
    plan = chip_run(chip, desc, a, w, dram=DRAM, residual=r)
    plain = chip_run(chip, base, a, w, dram=DRAM)
    return simulate_chip(design(nm_read), plan, quick=True, **kw), plan, plain


@pytest.mark.parametrize("nm_read, in_place", [(1, True), (4, False)])
def test_resnet50_bottleneck_last_conv_with_its_residual(nm_read, in_place):
    result, plan, plain = bottleneck(nm_read, in_place)
    exact(result)
    assert (plan.model.outputs != plain.model.outputs).mean() > 0.25       # the shortcut matters
    assert plan.model.cycles == plain.model.cycles                         # and costs no cycle
    assert [c["command"] for c in result.commands] == ["load", "load", "layer", "store"]
    assert result.nm == {"reads": plain.model.traffic.reads, "residual_reads": 8 * 64, "writes": 8 * 64}


def test_signed_residual_on_a_depthwise_layer_with_bias():
    """MobileNet-v2's depthwise 3x3 (16 groups: passes of one filter at every lane offset), a
    signed residual and a signed output, biases, in place: each pass reads its lane of a brick
    the passes before it have partly overwritten."""
    acts, weights, _, window = load_sample("mobilenet_v2_dw")
    a, w = acts[0, :16, :8, :8], weights[:16]
    layer = Layer.parse("k=16,kh=3,pad=1,groups=16", a.shape)
    rng = np.random.default_rng(7)
    rw = Window(11, 3, True)
    r = rng.integers(rw.lo >> 3, (rw.hi >> 3) + 1, (16, 8, 8)) << 3
    bias = rng.integers(-(1 << 16), 1 << 16, 16)
    desc = LayerDescriptor(layer, window, Window(11, 2, True), shift=8, bias=True, w_base=1 << 14, residual=rw,
                           res_shift=4, out_base=300, res_base=300)                       # in place
    plan = chip_run(design(2).chip, desc, a, w, dram=DRAM, bias=bias, residual=r)
    exact(simulate_chip(design(2), plan, quick=True))


def pool_input(c, h, w, seed=2):
    """Real VGG-16 conv1_2 activations (unsigned, window [15:5])."""
    acts, _, _, window = load_sample("vgg16_conv1_2")
    return acts[seed % 2, :c, :h, :w], window


@pytest.mark.parametrize("nm_read", [1, 4])
def test_vgg16_2x2_stride_2_pool(nm_read):
    x, window = pool_input(12, 16, 16)
    d = PoolDescriptor.parse("2x2/2", x.shape, window, in_base=7)
    result = simulate_chip(design(nm_read), pool_run(design(nm_read).chip, d, x, dram=DRAM), quick=True)
    exact(result)
    assert result.outputs.shape == (12, 8, 8)
    assert result.nm == {"reads": 3 * 16 * 16, "residual_reads": 0, "writes": 3 * 64}


@pytest.mark.parametrize("nm_read", [1, 4])
def test_resnet50_3x3_stride_2_pad_1_stem_pool(nm_read):
    """The stem pool on 64 channels at 16x16 (ResNet-50's 112x112, scaled), signed codes."""
    acts, _, _, _ = load_sample("vgg16_conv3_1")
    window = Window(11, 0, True)
    x = (acts[0, :64] >> 5) - 700                                      # real values, now signed
    d = PoolDescriptor.parse("3x3/2/1", x.shape, window)
    result = simulate_chip(design(nm_read), pool_run(design(nm_read).chip, d, x, dram=DRAM), quick=True)
    exact(result)
    assert result.outputs.shape == (64, 8, 8) and result.outputs.min() < 0


@pytest.mark.parametrize("tamper, needle", [({"output": (3, 1, 2)}, "first at filter 3, (y, x) = (1, 2)"),
                                            ({"cycles": -1}, "cycles exact")])
def test_corrupted_expectations_are_caught(tamper, needle):
    result, _, _ = bottleneck(1, True, tamper=tamper)
    assert not result.passed
    failures = result.verdict.failures
    assert len(failures) == 1 and needle in failures[0], failures
    x, window = pool_input(4, 6, 6)
    d = PoolDescriptor.parse("2x2/2", x.shape, window)
    result = simulate_chip(design(1), pool_run(design(1).chip, d, x, dram=DRAM), quick=True, tamper=tamper)
    assert not result.passed
    failures = result.verdict.failures
    assert len(failures) == 1 and needle in failures[0], failures
