"""What can go wrong when a simulator builds or runs a design."""
from __future__ import annotations

from dstripes.sim.errors import ToolError


class BuildError(ToolError):
    """The simulator could not compile the design, or a tool it needs is missing (the message
    names the log file or the tool)."""


class SimulationError(ToolError):
    """The simulator ended without a usable result (crash, or no results file)."""


class SimulationFailed(AssertionError):
    """A cocotb test of the run failed or did not run (raised by
    :meth:`dstripes.tb.host.runner.SimResult.check`)."""
