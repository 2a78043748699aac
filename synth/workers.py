"""Dask worker plugins of the synthesis tasks."""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from dstripes.tb.tools import stop_running


class StopYosys(WorkerPlugin):
    """A closing worker kills its yosys runs (each runs in its own process group, which would
    outlive the worker), so an interrupted sweep leaves no yosys behind."""

    def teardown(self, worker):
        stop_running()
