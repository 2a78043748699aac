"""Verification of the generated tiles: cocotb testbenches, a hardware harness, formal proofs
(``docs/verification.md``, ``docs/formal.md``, ``docs/design.md`` §8).

The package is split by where the code runs. Importing :mod:`dstripes.tb` imports nothing.

:mod:`.host` — Python outside the simulator (pytest, the ``dstripes`` command)
    :mod:`.host.verilog` (the Verilog a simulator compiles, cached), :mod:`.host.cache` (the
    keyed build cache), :mod:`.host.toolchain`, :mod:`.host.verilator`, :mod:`.host.icarus` and
    :mod:`.host.objcache` (the simulators and their workarounds), :mod:`.host.runner` (build and
    run a cocotb module), :mod:`.host.runs` (the runs derived from the golden model),
    :mod:`.host.cycle_path` and :mod:`.host.fast_path` (the tile alone, or inside its harness),
    :mod:`.host.simulate` (play runs and judge them), :mod:`.host.verify` (whole networks) and
    :mod:`.host.soak`.
:mod:`.bench` — cocotb modules, imported by the simulator's Python
    :mod:`.bench.streams` (clock, reset, stream drivers and monitors), :mod:`.bench.tile_bench`
    (the per-cycle tile testbench), :mod:`.bench.harness_bench` (the testbench of the harness)
    and :mod:`.bench.toggles` (switching activity).
:mod:`.gateware` — verification hardware
    :mod:`.gateware.tile_harness` (the memory-backed harness around a tile) and its memory
    models ``tb/gateware/mem_models.v``.
:mod:`.formal` — formal proofs with yosys ``sat``: the proof harnesses, their shared helpers
    (:mod:`.formal.common`) and the prover (:mod:`.formal.engine`).

Shared by both sides (no cocotb, no Amaranth): :mod:`.payload` (the stream payload codec),
:mod:`.verdict` (run outcomes and their checks), :mod:`.handoff` (parameters in, results out
between a runner and a cocotb module) and :mod:`.memfile` (the harness's memory map and
memory files); :mod:`.tools` runs the external tools (yosys) for the host side, the proofs and
synthesis.

Imports go one way: :mod:`.host` uses the gateware and the shared modules; :mod:`.bench` only
the shared ones; nothing imports :mod:`.bench` (the simulator loads it by name).
"""
