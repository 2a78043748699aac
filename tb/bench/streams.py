"""cocotb drivers and monitors for Amaranth ``lib.stream`` ports in emitted Verilog.

``verilog.convert`` names a stream port ``<name>__valid``, ``<name>__ready`` and
``<name>__payload`` (one flat vector, see :mod:`dstripes.tb.payload`); the clock is ``clk`` and the
reset ``rst`` (active high, synchronous).

Timing discipline (the same on Icarus and Verilator): the testbench writes its inputs right
after a falling edge, then waits for ``ReadOnly`` of that half period and reads the settled
handshake. Nothing the DUT does changes between that ``ReadOnly`` and the next rising edge, so
``valid & ready`` seen there is exactly the transfer the DUT performs at that edge, including a
``ready`` that depends combinationally on ``valid``. Reading at the rising edge itself would race
with the DUT's own registers. A transfer is not counted while ``rst`` is high, because the
synchronous reset overrides whatever the DUT would have done at that edge.
"""
from __future__ import annotations

import random
from collections import deque
from typing import Any, Awaitable, Callable, Iterable, TypeVar

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import convert, get_sim_time
from cocotb.triggers import Event, FallingEdge, ReadOnly, with_timeout

from ..payload import Codec

T = TypeVar("T")


def level(handle) -> int | None:
    """Integer value of a signal, or ``None`` if any of its bits is X or Z."""
    v = handle.value
    return int(v) if v.is_resolvable else None


def _probability(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{what} probability must be a number in [0, 1), not {value!r}")
    return float(value)


def _port(dut, name: str, member: str):
    full = f"{name}__{member}"
    try:
        return getattr(dut, full)
    except AttributeError:
        raise AttributeError(f"the DUT has no signal {full!r} (is {name!r} a stream port?)") from None


def _stream_ports(dut, name: str, codec):
    """``(valid, ready, payload, width)`` of stream ``name``, checking the codec's width."""
    valid, ready, payload = (_port(dut, name, m) for m in ("valid", "ready", "payload"))
    width = len(payload)
    if codec is not None and codec.width != width:
        raise ValueError(f"stream {name!r}: codec is {codec.width} bits, payload port is {width}")
    return valid, ready, payload, width


class Domain:
    """The DUT's clock ``clk`` and synchronous active-high reset ``rst``.

    Parameters
    ----------
    dut
        The cocotb top-level handle.
    period_ns : int
        Clock period in ns (the runner's timescale is 1 ns / 1 ps).
    clk, rst : str
        Signal names; ``rst=None`` for a design without reset.
    """

    def __init__(self, dut, period_ns: int = 10, clk: str = "clk", rst: str | None = "rst"):
        if isinstance(period_ns, bool) or not isinstance(period_ns, int) or period_ns < 1:
            raise ValueError(f"clock period must be a positive integer of ns, not {period_ns!r}")
        self.dut = dut
        self.clk = getattr(dut, clk)
        self.rst = getattr(dut, rst) if rst else None
        self.period_ns = period_ns
        self._period = convert(period_ns, "ns", to="step")
        self._clock: Clock | None = None

    def start(self) -> None:
        """Start the clock low (first rising edge at half a period) with reset released."""
        if self.rst is not None:
            self.rst.value = 0
        self._clock = Clock(self.clk, self.period_ns, unit="ns")
        self._clock.start(start_high=False)

    def cycle(self) -> int:
        """Index of the next rising edge (edge 0 is the first one)."""
        t = get_sim_time("step")
        return (t - self._period // 2) // self._period + 1

    def in_reset(self) -> bool:
        """Whether the next rising edge resets the DUT (read it in ``ReadOnly``); an
        unknown ``rst`` counts as reset so no transfer is credited while it is undefined."""
        return self.rst is not None and level(self.rst) != 0

    async def cycles(self, n: int) -> None:
        """Wait ``n`` falling edges (returns in the writable phase after the last one)."""
        for _ in range(n):
            await FallingEdge(self.clk)

    async def reset(self, cycles: int = 2) -> None:
        """Hold ``rst`` high for the next ``cycles`` rising edges.

        Call it from a writable phase between a rising and the next rising edge (after
        :meth:`start`, or after awaiting a falling edge); it returns after the falling edge
        that releases ``rst``.
        """
        if self.rst is None:
            raise RuntimeError("this domain has no reset signal")
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
            raise ValueError(f"reset length must be a positive number of cycles, not {cycles!r}")
        self.rst.value = 1
        await self.cycles(cycles)
        self.rst.value = 0

    async def within(self, awaitable: Awaitable[T], cycles: int) -> T:
        """Await ``awaitable``, raising ``SimTimeoutError`` after ``cycles`` clock periods."""
        return await with_timeout(awaitable, cycles * self.period_ns, "ns")


class StreamDriver:
    """Drive a stream *into* the DUT: queue payloads, present them in order, hold each until
    it is accepted.

    Parameters
    ----------
    dut
        The cocotb top-level handle.
    name : str
        Stream port name (signals ``<name>__valid/ready/payload``).
    domain : Domain
    codec : Codec, optional
        Packs the values given to :meth:`send`; without one they must be ints.
    idle : float
        Probability, before presenting each payload, of a cycle with ``valid`` low (and
        random bits on the payload, so a DUT that samples it without ``valid`` is caught).
    seed : int, optional
        Seed of this driver's own random generator.
    """

    def __init__(self, dut, name: str, domain: Domain, *, codec: Codec | None = None,
                 idle: float = 0.0, seed: int | None = None):
        self.name, self.domain, self.codec = name, domain, codec
        self.valid, self.ready, self.payload, self.width = _stream_ports(dut, name, codec)
        self.idle = _probability(idle, "idle")
        self._rng = random.Random(seed)
        self._queue: deque[int] = deque()
        self._current: int | None = None
        self._wake = Event()
        self.sent = 0
        self.edges: list[int] = []  # rising-edge index of each transfer
        self.valid.value = 0
        self._task = cocotb.start_soon(self._run())

    @property
    def pending(self) -> int:
        """Payloads queued or presented but not yet accepted."""
        return len(self._queue) + (self._current is not None)

    def send(self, payload: Any) -> None:
        """Queue one payload (packed by the codec, or an int of the port's width)."""
        if self.codec is not None:
            word = self.codec.pack(payload)
        else:
            if isinstance(payload, bool) or not isinstance(payload, int) or payload < 0 or payload >> self.width:
                raise ValueError(f"stream {self.name!r}: payload {payload!r} is not an unsigned "
                                 f"{self.width}-bit int (give the driver a codec for other values)")
            word = payload
        self._queue.append(word)
        self._wake.set()

    def send_all(self, payloads: Iterable[Any]) -> None:
        """Queue several payloads in order."""
        for p in payloads:
            self.send(p)

    def flush(self) -> None:
        """Drop everything not yet accepted and lower ``valid`` (call it from a writable phase,
        e.g. around a reset)."""
        self._queue.clear()
        self._current = None
        self.valid.value = 0

    def stop(self) -> None:
        """Stop driving (``valid`` stays low)."""
        self.flush()
        self._task.cancel()

    async def _run(self) -> None:
        clk = self.domain.clk
        while True:
            await FallingEdge(clk)
            if self._current is None:
                if not self._queue:
                    self.valid.value = 0
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if self.idle and self._rng.random() < self.idle:
                    self.valid.value = 0
                    self.payload.value = self._rng.getrandbits(self.width) if self.width else 0
                    continue
                self._current = self._queue.popleft()
                self.payload.value = self._current
                self.valid.value = 1
            await ReadOnly()
            if self._current is not None and level(self.ready) == 1 and not self.domain.in_reset():
                self._current = None
                self.sent += 1
                self.edges.append(self.domain.cycle())


class StreamMonitor:
    """Collect the payloads a stream *out of* the DUT transfers, with optional back-pressure.

    Parameters
    ----------
    dut, name, domain
        As for :class:`StreamDriver`.
    codec : Codec, optional
        Unpacks each payload; without one the items are ints.
    stall : float
        Probability of holding ``ready`` low in a cycle.
    seed : int, optional
        Seed of this monitor's own random generator.
    callback : callable, optional
        Called with each item as it arrives (in ``ReadOnly``: it must not write signals).
    """

    def __init__(self, dut, name: str, domain: Domain, *, codec: Codec | None = None,
                 stall: float = 0.0, seed: int | None = None,
                 callback: Callable[[Any], None] | None = None):
        self.name, self.domain, self.codec, self.callback = name, domain, codec, callback
        self.valid, self.ready, self.payload, self.width = _stream_ports(dut, name, codec)
        self.stall = _probability(stall, "stall")
        self._rng = random.Random(seed)
        self._grew = Event()
        self.items: list[Any] = []
        self.edges: list[int] = []  # rising-edge index of each transfer
        self._ready = False
        self.ready.value = 0
        self._task = cocotb.start_soon(self._run())

    def clear(self) -> None:
        """Forget the items collected so far."""
        self.items.clear()
        self.edges.clear()

    async def wait_for(self, count: int, timeout_cycles: int | None = None) -> list[Any]:
        """Return the items once at least ``count`` were collected."""
        async def enough():
            while len(self.items) < count:
                self._grew.clear()
                await self._grew.wait()
        if timeout_cycles is None:
            await enough()
        else:
            await self.domain.within(enough(), timeout_cycles)
        return self.items

    def stop(self) -> None:
        """Stop collecting (``ready`` stays low)."""
        self._task.cancel()
        self.ready.value = 0
        self._ready = False

    async def _run(self) -> None:
        clk = self.domain.clk
        while True:
            await FallingEdge(clk)
            ready = not (self.stall and self._rng.random() < self.stall)
            if ready != self._ready:
                self.ready.value = int(ready)
                self._ready = ready
            await ReadOnly()
            if not ready or self.domain.in_reset():
                continue
            valid = level(self.valid)
            if valid is None:
                raise AssertionError(f"stream {self.name!r}: valid is {self.valid.value} out of reset")
            if not valid:
                continue
            word = level(self.payload)
            if word is None:
                raise AssertionError(f"stream {self.name!r}: transferred payload has X/Z bits: {self.payload.value}")
            item = self.codec.unpack(word) if self.codec is not None else word
            self.items.append(item)
            self.edges.append(self.domain.cycle())
            if self.callback is not None:
                self.callback(item)
            self._grew.set()
