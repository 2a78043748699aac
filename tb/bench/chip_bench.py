"""cocotb testbench of the accelerator's fast path: the chip inside its harness
(:mod:`dstripes.tb.gateware.chip_harness`). Python does no work per clock cycle: it loads the memory
files the runner wrote, starts the commands, waits for ``done`` with one trigger, dumps the
output range of the off-chip memory and reads the command log. The runner
(:mod:`dstripes.tb.host.chip_path`) judges the outcome against the model."""
from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge, SimTimeoutError, with_timeout

from .. import memfile
from ..handoff import load_params, save_result
from .harness_bench import HarnessClock


@cocotb.test()
async def chip_commands(dut):
    """Every command of the batch, in order."""
    p = load_params()
    files, fields = p["files"], [tuple(f) for f in p["log_fields"]]
    clock = HarnessClock(dut, p["period_ns"])
    for port in ("start", "commands", "seed", "stall", "latency", "jitter", "credit", "load", "dump",
                 "dump_first", "dump_last"):
        getattr(dut, port).value = 0
    dut.rst.value = 1
    await clock.cycles(3)
    dut.rst.value = 0
    await clock.fall()
    for port in ("commands", "seed", "stall", "latency", "jitter", "credit", "dump_first", "dump_last"):
        getattr(dut, port).value = p[port]
    dut.load.value = 3
    await clock.cycles(2)           # registered, then loaded
    dut.load.value = 0
    await clock.cycles(1)
    t0 = clock.now()
    dut.start.value = 1
    try:
        await with_timeout(RisingEdge(dut.done), p["budget"] * clock.period, "step")
    except SimTimeoutError:
        log = memfile.read_log(files["log"], fields)
        raise AssertionError(f"the commands did not finish in {p['budget']:,} cycles: {len(log)} of "
                             f"{p['commands']} done, chip busy {int(dut.busy.value)}") from None
    sim_cycles = (clock.now() - t0) // clock.period
    await clock.fall()
    dut.dump.value = 1
    await clock.cycles(2)
    dut.dump.value = 0
    await clock.cycles(2)
    log = memfile.read_log(files["log"], fields)
    save_result("chip", {"commands": log, "sim_cycles": sim_cycles})
    assert len(log) == p["commands"], f"{len(log)} command-log lines for {p['commands']} commands"
