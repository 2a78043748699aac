"""``evaluate --energy``: the energy model of the three tiles and each network's energy, checked
before the evaluation and reported after it (``synth/energy.py`` computes them)."""
from __future__ import annotations

import json
import os
from dataclasses import replace

from dstripes.hw.design import designs
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES
from dstripes.sim.table import render
from dstripes.synth.energy import (PUBLISHED, EnergyModel, energy_markdown, energy_model, energy_plot,
                                   layer_energy_plot, network_energy)
from dstripes.synth.liberty import check_liberty, check_timing_liberty, resolve_liberty
from dstripes.synth.sta import sta_path

#: The tiles whose energy is compared.
KINDS = (DADN.name, STRIPES.name, DSTRIPES.name)


def check_energy(args, cfg) -> EnergyModel | None:
    """Everything ``--energy`` needs, checked before the network is evaluated: a saved model
    (``--energy-model``) that matches the tile, or a usable library and OpenSTA. Returns the
    saved model or ``None``."""
    if args.energy_model:
        model = EnergyModel.load(args.energy_model)
        if replace(model.config, tiles=cfg.tiles) != cfg:
            raise ConfigError(f"energy model {args.energy_model} is for another tile "
                              f"({model.config.as_dict()}), not {cfg.as_dict()}")
        missing = set(KINDS) - set(model.tiles)
        if missing:
            raise ConfigError(f"energy model {args.energy_model} has no {', '.join(sorted(missing))} tile")
        return model
    lib = resolve_liberty(args.liberty)
    check_liberty(lib)
    info = check_timing_liberty(lib)
    if not info.power:
        raise ConfigError(f"liberty {args.liberty} has no power tables: no energy")
    sta_path()  # a missing OpenSTA fails now, not after the evaluation
    return None


def the_energy_model(args, cfg, model, note) -> EnergyModel:
    """The saved energy model ``model`` (checked against ``--clock-ns``) or, when ``None``, one
    computed for the tile ``cfg`` (minutes on the published tile)."""
    if model is None:
        return energy_model(designs(KINDS, cfg), config=cfg, liberty=args.liberty, clock_ns=args.clock_ns,
                            jobs=args.jobs or None, progress=not args.no_progress, note=note)
    if args.clock_ns is not None and args.clock_ns != model.clock_ns:
        raise ConfigError(f"--clock-ns {args.clock_ns} differs from the energy model's clock "
                          f"{model.clock_ns:g} ns (power was computed at that clock)")
    return model


def run_energy(args, cfg, model, evaluations, note):
    """The energy model (computed unless given), each network's energy, the reports written
    into ``--out``: ``(model, {network: energy}, files)``."""
    model = the_energy_model(args, cfg, model, note)
    energies = {ev.network: network_energy(model, ev.layers(), cfg.tiles) for ev in evaluations}
    files = [os.path.join(args.out, n) for n in ("energy_model.json", "energy.json", "energy.md")]
    model.save(files[0])
    write_atomic(files[1], json.dumps({"model": model.as_dict(),
                                       "networks": {n: e.as_dict() for n, e in energies.items()}}, indent=1) + "\n")
    write_atomic(files[2], energy_markdown(model, energies) + "\n![energy efficiency](energy.png)\n")
    files.append(energy_plot(energies, os.path.join(args.out, "energy.png")))
    for ev in evaluations:
        files.append(layer_energy_plot(ev.network, energies[ev.network],
                                       os.path.join(args.out, ev.network, "energy.png")))
    return model, energies, files


def add_energy(d: dict, energy: dict) -> None:
    """Energy fields in a network's JSON: ``total.energy_pj``, ``energy_efficiency_over_dadn``
    (per scheme), ``conv_only`` likewise, and ``energy_pj`` per layer."""
    d["total"]["energy_pj"] = energy["total"]["energy_pj"]
    d["energy_efficiency_over_dadn"] = energy["energy_efficiency_over_dadn"]
    d["conv_only"]["energy_pj"] = energy["conv_only"]["energy_pj"]
    d["conv_only"]["energy_efficiency_over_dadn"] = energy["conv_only"]["energy_efficiency_over_dadn"]
    for row, e in zip(d["layers"], energy["layers"]):
        row["energy_pj"] = e["energy_pj"]


def energy_table(model, energies) -> str:
    """Each network's conv-layer energy per tile and the efficiencies, beside the papers'."""
    rows = []
    for net, e in energies.items():
        t, eff = e.conv_only.energy_pj, e.conv_only.efficiency_over_dadn
        rows.append([f"{net} (conv)", t[DADN.name] / 1e9, t[STRIPES.name] / 1e9, t[DSTRIPES.name] / 1e9,
                     eff[STRIPES.name], eff[DSTRIPES.name]])
    rows.append(["published (65 nm, whole chip)", "", "", "", PUBLISHED[STRIPES.name]["value"],
                 PUBLISHED[DSTRIPES.name]["value"]])
    return render(["network", "DaDN mJ", "Stripes mJ", "DStripes mJ", "STR eff.", "DStr eff."], rows,
                  title=f"Energy, compute only ({model.liberty}, {model.clock_ns:.2f} ns clock, "
                        f"{model.config.tiles} tiles; no memories, no wires; energy.md says how this "
                        f"differs from the papers)")
