"""Independent tasks (layers, filter-sets, photos, networks, sweep points) on Dask.

Dask is the engine: worker processes on this machine by default (a ``LocalCluster``), or a
running Dask distributed cluster when the user names its scheduler (``--scheduler ADDRESS``).
Nothing here schedules work itself; it only opens the client, submits the tasks and gathers
their results in completion order with a progress bar.

Typical use::

    with dask_client(scheduler=args.scheduler, jobs=args.jobs) as client:
        for i, result in run_tasks(client, work, items, desc="layers"):
            ...
"""
from __future__ import annotations

import contextlib
import logging
import os
import uuid
from typing import Callable, Iterator, Sequence

from dask.distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

from ..errors import ConfigError
from ..limits import worker_count


def default_jobs() -> int:
    """Local worker processes by default: one per CPU."""
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, jobs: int | None = None, *, memory_limit: str | None = "auto",
                timeout: float = 20.0) -> Iterator:
    """A ``dask.distributed.Client``: on ``scheduler`` (``tcp://host:port``) if given, else on a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes.

    Raises
    ------
    ConfigError
        ``jobs`` is not a positive integer, or ``scheduler`` is malformed or not reachable.
    """
    if jobs is not None:
        worker_count(jobs)
    cluster = None
    if scheduler:
        if "://" not in scheduler and ":" not in scheduler:
            raise ConfigError(f"--scheduler must be a Dask scheduler address such as tcp://host:8786, "
                              f"not {scheduler!r}")
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler} ({e})") from None
    else:
        cluster = LocalCluster(n_workers=jobs or default_jobs(), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR,
                               memory_limit=memory_limit)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_tasks(client, fn: Callable, items: Sequence, *, desc: str = "tasks", progress: bool = True,
              key: str | None = None) -> Iterator[tuple[int, object]]:
    """Submit ``fn(item)`` for every item; yield ``(index, result)`` as tasks finish.

    A task that raises re-raises its exception here (Dask carries it back), so a
    :class:`ConfigError` in a worker ends the run with its one-line message. ``key`` prefixes
    the Dask task names (shown on a cluster's dashboard).
    """
    batch = uuid.uuid4().hex[:8]  # Dask reuses the result of a known key: every call is new
    futures = {}
    for i, item in enumerate(items):
        fut = client.submit(fn, item, key=f"{key or desc}-{batch}-{i}", pure=False)
        futures[fut] = i
    bar = tqdm(total=len(futures), desc=desc, unit="task", disable=None if progress else True, leave=False)
    try:
        for fut in as_completed(futures):
            result = fut.result()
            bar.update(1)
            yield futures[fut], result
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        bar.close()
