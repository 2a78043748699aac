"""The Dask engine of the scale-out commands: a LocalCluster by default, a named scheduler."""
from __future__ import annotations

import pytest

from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.cluster import dask_client, run_tasks


def _square(x):
    if x == 13:
        raise ConfigError("thirteen is bad input")
    return x * x


def test_local_cluster_runs_every_task():
    with dask_client(jobs=2) as client:
        got = dict(run_tasks(client, _square, list(range(10)), progress=False))
        assert got == {i: i * i for i in range(10)}
        with pytest.raises(ConfigError, match="thirteen"):
            dict(run_tasks(client, _square, [1, 13, 2], progress=False))


def test_a_named_scheduler_is_used():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with dask_client(scheduler=cluster.scheduler_address) as client:
            assert client.scheduler.address == cluster.scheduler_address
            assert dict(run_tasks(client, _square, [3], progress=False)) == {0: 9}


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ConfigError, match="jobs must be a positive integer, not 0"):
        with dask_client(jobs=0):
            pass
    with pytest.raises(ConfigError, match="must be a Dask scheduler address"):
        with dask_client(scheduler="nonsense"):
            pass
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        with dask_client(scheduler="tcp://127.0.0.1:9", timeout=2):
            pass
