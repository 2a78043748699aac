"""The bundled real-activation samples load with numpy alone and are usable as they are."""
from __future__ import annotations

import numpy as np
import pytest

from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.functional import conv_int, window_set_results
from dstripes.sim.samples import load_sample, sample_info, sample_names


def test_samples_are_bundled():
    names = sample_names()
    assert {"vgg16_conv1_2", "vgg16_conv3_1", "vgg16_conv5_1", "mobilenet_v2_dw"} <= set(names)
    import os
    from dstripes.sim import samples
    assert os.path.getsize(samples.ARRAYS) < 600 * 1024


@pytest.mark.parametrize("name", ["vgg16_conv1_2", "vgg16_conv3_1", "vgg16_conv5_1", "mobilenet_v2_dw"])
def test_sample_codes_inside_window(name):
    acts, weights, layer, window = load_sample(name)
    assert acts.dtype == np.int64 and weights.dtype == np.int64
    assert acts.ndim == 4 and acts.shape[1:] == (layer.c, layer.h, layer.w)
    assert weights.shape == (layer.k, layer.cg, layer.kh, layer.kw)
    window.check(acts, 16)  # raises if any code is outside the window
    assert acts.any() and (acts == 0).any()  # real post-ReLU data: some zeros, not all
    assert -(1 << 15) <= weights.min() and weights.max() < (1 << 15) and weights.any()
    info = sample_info(name)
    assert info.window == window and info.layer == layer and info.network in ("vgg16-hed", "mobilenet-v2")


def test_samples_run_through_the_golden_model():
    acts, weights, layer, window = load_sample("vgg16_conv3_1")
    res = layer_cycles(acts, layer, window, TileConfig())
    assert res.images == acts.shape[0]
    assert res.cycles["dstripes"] <= res.cycles["stripes"] <= res.cycles["dadn"]
    out = conv_int(acts[0], weights, layer)
    tile = window_set_results(acts[0], weights, layer, 16, 16, 16)
    flat = out.reshape(layer.k, -1)[:16].T  # (windows, Nr) of filter set 0
    assert (tile.reshape(-1, 16)[:layer.windows] == flat).all()
    dw = load_sample("mobilenet_v2_dw")
    assert dw[2].conv_groups == dw[2].c


def test_unknown_sample():
    with pytest.raises(ConfigError, match="unknown sample 'alexnet'"):
        load_sample("alexnet")
