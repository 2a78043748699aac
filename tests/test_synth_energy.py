"""Energy per cycle from measured activity (synth/activity.py, synth/energy.py) on a tiny tile,
and ``dstripes evaluate --energy``."""
from __future__ import annotations

import json

import pytest

from dstripes.hw.design import TileDesign, designs
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.synth.activity import sample_instances, sample_runs, split_bit
from dstripes.synth.energy import EnergyModel, EnergyTotal, energy_model, network_energy

# 16-bit (the bundled real samples' width), one filter, two windows, four lanes: the real
# conv1_2 slice is ~1,200 cycles on the serial tiles
TINY = TileConfig(lanes=4, columns=2, rows=1)
SAMPLES = ("vgg16_conv1_2",)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("energy")
    m = energy_model(designs(("dadn", "stripes", "dstripes"), TINY), config=TINY, out=out, jobs=2, window_sets=1,
                     samples=SAMPLES, max_instances=2)
    m.save(out / "energy_model.json")
    return out, m


def test_every_block_is_annotated_from_the_simulation(model):
    _, m = model
    assert m.clock_ns == pytest.approx(max(t.critical_path_ns for t in m.tiles.values()))
    for s, t in m.tiles.items():
        assert t.power_w > 0 and t.energy_per_cycle_pj == pytest.approx(t.power_w * m.clock_ns * 1e3)
        assert t.activity.cycles > 100 and t.activity.runs[0].startswith(SAMPLES[0])
        for name, b in t.blocks.items():
            assert b.power.measured, (s, name)
            assert b.power.annotated_inputs > 0.9 and b.power.annotated_registers > 0.9, (s, name, b)
            assert 0 < t.activity.blocks[name].mean_toggle < 1, (s, name)
        assert t.power_w == pytest.approx(sum(b.count * b.power.total_w for b in t.blocks.values()))
        # every tile simulated the same windows (the run, plus the few cycles around it)
        runs, _ = sample_runs(TileDesign.of(s, TINY), 1, SAMPLES, columns=TINY.columns)
        assert sum(r.cycles for r in runs) <= t.activity.cycles < sum(r.cycles for r in runs) + 50, s


def test_model_round_trips_and_energy_adds_up(model):
    out, m = model
    back = EnergyModel.load(out / "energy_model.json")
    assert back.clock_ns == m.clock_ns and back.config == m.config
    assert back.as_dict() == m.as_dict()   # every figure of the file is read back
    assert {s: t.energy_per_cycle_pj for s, t in back.tiles.items()} == \
        pytest.approx({s: t.energy_per_cycle_pj for s, t in m.tiles.items()})
    assert m.energy_pj("stripes", 1000, tiles=2) == pytest.approx(2000 * m.tiles["stripes"].energy_per_cycle_pj)
    with pytest.raises(ConfigError, match="has no pragmatic tile"):
        m.energy_pj("pragmatic", 1)


def test_network_energy_follows_cycles(model):
    from dstripes.sim import samples
    from dstripes.sim.cycles import layer_cycles

    _, m = model
    acts, _, layer, window = samples.load_sample(SAMPLES[0])
    lc = layer_cycles(acts, layer, window, TINY, name="conv1_2")
    e = network_energy(m, [lc, lc])
    one = {s: lc.cycles[s] * m.tiles[s].energy_per_cycle_pj * TINY.tiles for s in m.tiles}
    assert e.layers[0].energy_pj == pytest.approx(one)
    assert e.total.energy_pj == pytest.approx({s: 2 * v for s, v in one.items()})
    eff = e.total.efficiency_over_dadn
    assert eff["dadn"] == 1.0 and eff["dstripes"] == pytest.approx(one["dadn"] / one["dstripes"])
    # fewer cycles at a similar energy per cycle: Dynamic Stripes spends less than Stripes here
    assert e.total.energy_pj["dstripes"] < e.total.energy_pj["stripes"]
    d = e.as_dict()   # the JSON of evaluate --energy
    assert list(d) == ["layers", "total", "energy_efficiency_over_dadn", "conv_only"]
    assert d["energy_efficiency_over_dadn"] == eff and d["layers"][0]["name"] == "conv1_2"


def test_toggle_counting_of_binary_strings():
    from dstripes.tb.bench.toggles import _bits

    # MSB first as the simulator gives them; an X keeps the bit's previous value
    m, unknown = _bits(["0101", "01x1", "1111"], 4)
    assert m.tolist() == [[1, 0, 1, 0], [1, 0, 1, 0], [1, 1, 1, 1]] and unknown == 1


def test_helpers():
    assert split_bit("partial[18]") == ("partial", 18) and split_bit("next.acts[3]") == ("next.acts", 3)
    assert split_bit("c_full") == ("c_full", 0)
    names = [f"sip_r{r}_c{c}" for r in range(16) for c in range(16)]
    picked = sample_instances(names, 16)
    assert len(picked) == 16 and {p.split("_c")[1] for p in picked} == {str(c) for c in range(16)}
    assert sample_instances(names[:3], 8) == names[:3]
    assert EnergyTotal({"dadn": 10.0, "stripes": 5.0}).efficiency_over_dadn == {"dadn": 1.0, "stripes": 2.0}
    with pytest.raises(ConfigError, match="needs the bit-parallel"):
        EnergyTotal({"stripes": 1.0}).efficiency_over_dadn
    with pytest.raises(ConfigError, match="window-sets per sample must be a positive integer"):
        sample_runs(TileDesign.of("stripes", TINY), 0)
    # no bundled sample (16-bit codes) fits 8-bit tiles: their codes re-quantised to 8 bits
    # (tests/test_chip_int8.py checks the values)
    _, said = sample_runs(TileDesign.of("stripes", TileConfig(lanes=4, columns=2, rows=1, act_bits=8, weight_bits=8)))
    assert said and all("re-quantised to 8-bit activations" in x for x in said)
    # the bit-parallel tile runs the windows of the serial tiles' window-sets (its own
    # configuration has no columns: they are the serial tiles')
    (bp,), _ = sample_runs(TileDesign.of("dadn", TINY), 1, SAMPLES, columns=TINY.columns)
    (serial,), _ = sample_runs(TileDesign.of("stripes", TINY), 1, SAMPLES)
    assert serial.config["window_sets"] == 1 and bp.config["window_sets"] == TINY.columns
    with pytest.raises(ConfigError, match="is not the tile of its kind for"):
        energy_model([TileDesign.of("stripes", TINY)], config=TileConfig())


def test_broken_energy_model_files(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="is not a dstripes-energy-model/1 file"):
        EnergyModel.load(bad)
    with pytest.raises(ConfigError, match="energy model not found"):
        EnergyModel.load(tmp_path / "none.json")


@pytest.mark.nets
def test_evaluate_energy_json(model, tmp_path, capsys):
    from dstripes.scripts.cli import main

    out, _ = model
    opts = ["--lanes", "4", "--columns", "2", "--rows", "1"]
    assert main(["evaluate", "--model", "mobilenet-v2", "--images", "1", *opts, "--energy",
                 "--energy-model", str(out / "energy_model.json"), "--json", "--no-progress",
                 "--out", str(tmp_path / "ev")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["total"]["energy_pj"]) == {"dadn", "stripes", "dstripes"}
    assert d["energy_efficiency_over_dadn"]["dadn"] == 1.0
    assert all(set(l["energy_pj"]) == {"dadn", "stripes", "dstripes"} for l in d["layers"])
    assert d["energy_model"]["clock_ns"] > 0
    for f in ("energy.md", "energy.json", "energy_model.json", "energy.png"):
        assert (tmp_path / "ev" / f).is_file(), f
    # a model of another tile is refused before the network is evaluated
    assert main(["evaluate", "--model", "mobilenet-v2", "--images", "1", "--energy",
                 "--energy-model", str(out / "energy_model.json"), "--out", str(tmp_path / "ev2")]) == 2
    assert "is for another tile" in capsys.readouterr().err
