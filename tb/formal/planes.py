"""The plane interface between the dispatcher and the SIPs, as both serial proofs read it.

The tile (``hw/tile.py``) wires the dispatcher's plane stream to every SIP; the serial proof is
split there (``docs/formal.md`` §2). Both halves observe the stream with the same definitions,
written once here, so that what the dispatcher's proof guarantees is literally what the SIPs'
proof assumes:

* :func:`serial_value` — the MSB-first value of what a lane has received in the current step:
  on each transfer ``v' = first ? ±x : 2·v ± x`` while the group is active (``v`` held when
  not; minus on the sign cycle). With ``x`` an activation bit it is the prefix of the code
  rebuilt so far (the dispatcher's proof); with ``x = bit ? w : 0`` it is the lane's share of
  the SIP's partial (the SIPs' proof).
* :func:`step_counters` — per group, the active transfers of the current step, and the
  contract the SIPs rely on: no step is active for more than ``A`` transfers.
* :class:`Queue` — a shadow of the environment: the pallets and weight bricks in the order
  they were transferred, the oldest being the step the planes serialise.
"""
from __future__ import annotations

from amaranth.hdl import Mux, Signal, signed

from .common import all_of


def shift_accumulate(value, first, active, neg, x):
    """The SIP's rule (``hw/sip.py``) on one transfer: ``first ? ±x : 2·value ± x`` while
    active, ``value`` held otherwise (``0`` on an inactive first transfer); minus on the sign
    cycle."""
    term = Mux(neg, -x, x)
    return Mux(first, Mux(active, term, 0), Mux(active, (value << 1) + term, value))


def serial_value(m, transfer, first, active, neg, x, width: int, name: str):
    """A register following :func:`shift_accumulate` on every transfer; returns
    ``(value, next)``, ``next`` being its value after this cycle."""
    value = Signal(signed(width), name=name)
    nxt = Signal(signed(width), name=f"{name}_next")
    m.d.comb += nxt.eq(Mux(transfer, shift_accumulate(value, first, active, neg, x), value))
    m.d.sync += value.eq(nxt)
    return value, nxt


def step_counters(m, transfer, first, actives, act_bits: int, prefix: str = "k"):
    """Per group: active transfers in the current step (``(count, next)``), and ``contract``:
    no group is active on a transfer that is not its step's first once it has had ``A``."""
    out, ok = [], []
    for g, active in enumerate(actives):
        k = Signal(range(act_bits + 2), name=f"{prefix}{g}")
        k_next = Signal(range(act_bits + 2), name=f"{prefix}{g}_next")
        m.d.comb += k_next.eq(k)
        with m.If(transfer):
            with m.If(first):
                m.d.comb += k_next.eq(active)
            with m.Elif(active):
                m.d.comb += k_next.eq(k + 1)
        m.d.sync += k.eq(k_next)
        ok.append(~(transfer & active & ~first & (k >= act_bits)))
        out.append((k, k_next))
    contract = Signal(name="contract_ok")
    m.d.comb += contract.eq(all_of(ok))
    return out, contract


class Queue:
    """The pallets and bricks transferred and not yet serialised, oldest first (two in flight
    at most: the dispatcher's ``next`` and ``current`` registers).

    Members
    -------
    act, weight : list of two Signals
        ``act[0]`` / ``weight[0]``: the step being serialised.
    order_ok : Signal
        Falls for good when a step ends with nothing queued (a step without its own pallet or
        brick) or a third item is pushed (one would be lost).
    """

    def __init__(self, m, *, act, weight, pop, act_layout, weight_layout):
        self.act = [Signal(act_layout, name=f"qa{i}") for i in range(2)]
        self.weight = [Signal(weight_layout, name=f"qw{i}") for i in range(2)]
        self.order_ok = Signal(init=1, name="order_ok")
        for name, q, stream in (("na", self.act, act), ("nw", self.weight, weight)):
            n = Signal(2, name=name)
            push = stream.valid & stream.ready
            with m.If(pop):
                m.d.sync += q[0].eq(q[1])
            slot = n - pop
            with m.If(push):
                with m.Switch(slot):
                    with m.Case(0):
                        m.d.sync += q[0].eq(stream.payload)
                    with m.Case(1):
                        m.d.sync += q[1].eq(stream.payload)
            m.d.sync += n.eq(n + push - pop)
            with m.If((pop & (n == 0)) | (push & (slot >= 2))):
                m.d.sync += self.order_ok.eq(0)
