"""Fully-connected runs through the generated tile in cocotb (the per-cycle path), against the
golden model: results bit-exact, the tile's counter equal to the model's round-robin count."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dstripes.hw.design import TileDesign
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.tb.host.cycle_path import simulate_tile, tile_verilog
from dstripes.tb.host.runs import layer_run
from dstripes.tb.host.soak import relu_like
from dstripes.tb.verdict import REPORT_KEY, BenchReport

from .test_tb_tile import SMALL


@pytest.mark.parametrize("scheme", ["dstripes", "stripes", "dadn"])
def test_fc_runs_on_icarus(scheme, tmp_path):
    """A 37-input, 3-output FC layer (10 bricks on 4 columns), both filter-sets, then a conv
    run: exact; the FC runs' cycles are the model's own layer count plus the latency."""
    rng = np.random.default_rng(4)
    tile = TileDesign.of(scheme, replace(SMALL, fc_dispatch=scheme != "dadn"))
    layer, window = Layer(37, 1, 1, 3, fc=True, name="fc"), Window(7, 1)
    acts = relu_like(rng, (37,), window)
    weights = rng.integers(-128, 128, (3, 37))
    mode = "both" if scheme == "dstripes" else "static"
    runs = [layer_run(tile, layer, window, acts, weights, mode=mode, filter_set=f) for f in range(2)]
    conv = Layer(6, 5, 6, 3, 3, 3, 1, 1, 1, 1)
    runs.append(layer_run(tile, conv, window, relu_like(rng, (6, 5, 6), window),
                          rng.integers(-128, 128, (3, 6, 3, 3)), mode=mode, window_sets=2))
    out = BenchReport.from_dict(simulate_tile(tile, tile_verilog(tile), runs, simulator="icarus", quick=True,
                                              run_dir=tmp_path).check().results[REPORT_KEY]).runs
    assert [o.mismatches for o in out] == [0, 0, 0] and [o.results for o in out] == [1, 1, 2]
    assert [o.cycles for o in out] == [r.cycles for r in runs]
    model = layer_cycles(acts, layer, window, replace(SMALL, tiles=1)).cycles[scheme] // 2
    assert out[0].cycles == out[1].cycles == model + tile.latency
