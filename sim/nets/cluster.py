"""Independent tasks (layers, filter-sets, photos, networks, sweep points) on Dask.

Dask is the engine: worker processes on this machine by default (a ``LocalCluster``), or a
running Dask distributed cluster when the user names its scheduler (``--scheduler ADDRESS``).
Nothing here schedules work itself; it only opens the client, submits the tasks and gathers
their results in completion order with a progress bar.

Typical use::

    with dask_client(scheduler=args.scheduler, jobs=args.jobs) as client:
        for i, result in run_tasks(client, work, items, desc="layers"):
            ...

**Interrupts.** A terminal's Ctrl-C reaches every process of the foreground group: the command
and its local workers. The workers start with SIGINT blocked (inherited from the thread that
spawns them) and, once up, take it with :func:`_stop_programs` (installed by :func:`dask_setup`,
run in every local worker as its preload): no traceback, no message; the programs the worker is
running (a simulator, which may take SIGINT as a pause, or yosys in its own session) are killed,
so none outlives the run.
The command's ``KeyboardInterrupt`` leaves :func:`dask_client`, which closes the workers at once
(no waiting for the tasks in flight) with Dask's own messages silenced; ``dstripes`` then prints
its one line. A local cluster opens no dashboard (its scheduler's HTTP endpoint listens on a
free local port), so two runs at once never compete for Dask's default port 8787; a dashboard
is the user's own scheduler's (``dask scheduler``, then ``--scheduler``).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from typing import Callable, Iterator, Sequence

from dask.distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

from ..errors import ConfigError
from ..limits import worker_count

#: Seconds a local worker gets to stop when the command is interrupted before it is killed.
STOP_SECONDS = 0.5


def default_jobs() -> int:
    """Local worker processes by default: one per CPU."""
    return max(1, os.cpu_count() or 1)


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from ``/proc``; none where it does not exist)."""
    out = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for d in entries:
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d))
    return out


def _kill_children() -> None:
    """Kill this process's children, with the process group each leads (a tool in its own
    session, such as yosys and its ABC)."""
    for pid in _children(os.getpid()):
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)


def _keep_killing_children() -> None:
    while True:
        _kill_children()
        time.sleep(0.02)


def _stop_programs(signum, frame) -> None:
    """A local worker's SIGINT handler: say nothing (the command that owns the worker reports the
    interrupt and closes it) and kill the programs the worker runs. The task in flight goes on
    until the worker is closed and may start another program meanwhile (the next simulation of
    a layer), which the closing would orphan: from the interrupt on, a thread kills every child
    the worker starts."""
    _kill_children()
    if not any(t.name == "dstripes-interrupted" for t in threading.enumerate()):
        threading.Thread(target=_keep_killing_children, name="dstripes-interrupted", daemon=True).start()


def dask_setup(worker) -> None:
    """Preload of every local worker (:func:`dask_client`): take SIGINT with
    :func:`_stop_programs`, then unblock it (it was blocked from the worker's start).

    Parameters
    ----------
    worker : distributed.Worker
        The worker being started (unused: the process is what is set up).
    """
    signal.signal(signal.SIGINT, _stop_programs)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def _interrupt_held() -> Iterator[None]:
    """Block SIGINT in this thread while the local cluster starts: the threads Dask starts meanwhile
    and the worker processes they spawn inherit the block; an interrupt that arrives meanwhile
    is delivered when the block is lifted, as ``KeyboardInterrupt`` here."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """No log record at all (Dask's scheduler, nanny and comms, asyncio) while an interrupted
    local cluster is torn down."""
    before = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(before)


def _local_cluster(jobs: int | None, memory_limit: str | None) -> LocalCluster:
    return LocalCluster(n_workers=jobs or default_jobs(), threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.CRITICAL, memory_limit=memory_limit,
                        # no dashboard, and the scheduler's HTTP endpoint on a free local port
                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                        preload=[__name__])


def _stop_local(cluster: LocalCluster, client) -> None:
    """Close a local cluster at once (after an interrupt or an error: nothing in flight is
    wanted): every worker gets :data:`STOP_SECONDS` to close, its plugins' teardown included,
    before it is killed; Dask's messages are silenced."""
    with _quiet_logs():
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=STOP_SECONDS)
        with contextlib.suppress(Exception):
            cluster.sync(_close_workers, cluster)
        with contextlib.suppress(Exception):
            cluster.close(timeout=2 * STOP_SECONDS + 1)


async def _close_workers(cluster: LocalCluster) -> None:
    await asyncio.gather(*(w.close(timeout=STOP_SECONDS, reason="interrupted")
                           for w in list(cluster.workers.values())), return_exceptions=True)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, jobs: int | None = None, *, memory_limit: str | None = "auto",
                timeout: float = 20.0) -> Iterator:
    """A ``dask.distributed.Client``: on ``scheduler`` (``tcp://host:port``) if given, else on a
    ``LocalCluster`` of ``jobs`` single-threaded worker processes (no dashboard; an interrupt
    closes them at once and quietly, see the module docstring).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running Dask scheduler.
    jobs : int, optional
        Local worker processes (default :func:`default_jobs`).
    memory_limit : str, optional
        Per local worker (Dask's syntax).
    timeout : float
        Seconds to reach ``scheduler``.

    Returns
    -------
    Iterator
        Yields the client.

    Raises
    ------
    ConfigError
        ``jobs`` is not a positive integer, or ``scheduler`` is malformed or not reachable.
    """
    if jobs is not None:
        worker_count(jobs)
    if scheduler:
        if "://" not in scheduler and ":" not in scheduler:
            raise ConfigError(f"--scheduler must be a Dask scheduler address such as tcp://host:8786, "
                              f"not {scheduler!r}")
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler} ({e})") from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = client = None
    try:
        with _interrupt_held():
            cluster = _local_cluster(jobs, memory_limit)
            client = Client(cluster)
        yield client
    except BaseException:
        if cluster is not None:
            with _interrupt_held():  # a second Ctrl-C waits for the workers to be gone
                _stop_local(cluster, client)
            cluster = None
        raise
    finally:
        if cluster is not None:
            with _quiet_logs():  # heartbeats cut short by the close are no news
                client.close()
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
        with contextlib.suppress(Exception):  # never hides the interrupt or the task's error
            client.cancel(list(futures))
        raise
    finally:
        bar.close()
