"""One tile design: a kind of the registry with its configuration, validated once.

Everything downstream of the command line — generation, both testbench paths, ``verify``,
synthesis, ``explore``, the proofs — takes a :class:`TileDesign` instead of a kind's name and a
configuration. It is made once (:meth:`TileDesign.of`), where every configuration rule is
checked with one message each, and then carries what the rest of the project asks of a tile:
the kind, the configuration its hardware uses (:meth:`TileKind.own`), its latency, manifest and
blocks — all known from the tile's class without building it — and the component itself, built
only where it is elaborated (emission, simulation, whole-tile timing).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping

from amaranth.hdl import Shape
from amaranth.lib import wiring

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError

from .emit import to_verilog
from .kinds import KINDS, MODEL_ONLY, TileKind, kind
from .params import COUNT_BITS, MODE_CODES, SynthBlock, check_config, run_layout


@dataclass(frozen=True)
class ConfigField:
    """One field of the ``config`` stream's payload (LSB first)."""

    name: str
    width: int
    offset: int


@dataclass(frozen=True)
class Manifest:
    """What a testbench or a user needs to drive a generated tile (``manifest.json``).

    Members
    -------
    top : str
        Verilog top module.
    scheme, title : str
        The kind's name and its title in reports.
    parameters : mapping
        The configuration values the hardware depends on, with ``acc_bits`` and ``count_bits``.
    modes : tuple of str
        Run-time precision modes the tile supports.
    ports : mapping
        ``{port: {"width", "direction"}}`` as the Verilog emitter names them.
    latency : int
        Cycles a run takes beyond the sum of its step costs (always-ready streams).
    payloads : mapping
        Stream payload orders.
    config_fields : tuple of ConfigField
    mode_codes : mapping
        ``{mode: code}`` of the ``mode`` field.
    """

    top: str
    scheme: str
    title: str
    parameters: Mapping
    modes: tuple
    ports: Mapping
    latency: int
    payloads: Mapping
    config_fields: tuple
    mode_codes: Mapping

    def as_dict(self) -> dict:
        """The JSON form (``manifest.json``, ``generate --json``)."""
        return {
            "top": self.top,
            "scheme": self.scheme,
            "title": self.title,
            "parameters": dict(self.parameters),
            "modes": list(self.modes),
            "ports": {k: dict(v) for k, v in self.ports.items()},
            "latency": self.latency,
            "payloads": dict(self.payloads),
            "config_fields": [{"name": f.name, "width": f.width, "offset": f.offset} for f in self.config_fields],
            "mode_codes": dict(self.mode_codes),
        }


def ports(signature: wiring.Signature) -> dict:
    """Verilog ports of a component of ``signature`` as the emitter names them (no component
    needed): ``{name: {"width", "direction"}}``, ``clk`` and ``rst`` first."""
    out = {"clk": {"width": 1, "direction": "in"}, "rst": {"width": 1, "direction": "in"}}
    for path, member in signature.members.flatten():
        if member.is_port:  # a nested member's flow is already seen from the top
            if member.dimensions:
                raise ValueError(f"port {'__'.join(path)} is an array of ports, which a manifest does not describe")
            out["__".join(path)] = {"width": Shape.cast(member.shape).width,
                                    "direction": "in" if member.flow == wiring.In else "out"}
    return out


@dataclass(frozen=True, eq=False)
class TileDesign:
    """One tile: a kind of the registry and the configuration its hardware uses.

    Make it with :meth:`of` (which validates); it is immutable, hashable and equal to every
    design of the same kind and configuration, and travels to Dask workers as those two values
    (the component is built again where it is needed).

    Members
    -------
    kind : TileKind
    config : TileConfig
        Normalised (:meth:`TileKind.own`): fields the kind's hardware does not use are at their
        defaults, automatic choices are concrete; model-only fields (``tiles``) are kept.
    """

    kind: TileKind
    config: TileConfig = field(default_factory=TileConfig)

    @classmethod
    def of(cls, kind_or_name: str | TileKind, config: TileConfig = TileConfig(), *,
           given: Mapping[str, object] | Iterable[str] = (), spell: Callable[[str], str] | None = None) -> "TileDesign":
        """The design of kind ``kind_or_name`` for ``config``, validated.

        ``given``: the configuration fields the user set explicitly; one that the kind's
        hardware does not use, or does not use in this configuration, is an error naming it
        (spelt by ``spell``, e.g. as a command-line option) instead of being silently ignored.
        A tile too large to generate is refused here too.
        """
        k = kind_or_name if isinstance(kind_or_name, TileKind) else kind(kind_or_name)
        check_config(config)
        check_given([k], config, given, spell)
        own = k.own(config)
        k.check_size(own)
        return cls(k, own)

    # identity: the kind's name and the configuration (a component is not part of it)
    def _key(self) -> tuple:
        return (self.kind.name, self.config)

    def __eq__(self, other) -> bool:
        return isinstance(other, TileDesign) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self):
        return (_rebuild, self._key())

    def __repr__(self) -> str:
        return f"TileDesign({self.kind.name!r}, {self.config!r})"

    name = property(lambda self: self.kind.name, doc="The kind's name (``dstripes``, ``stripes``, ``dadn``).")
    title = property(lambda self: self.kind.title)
    top = property(lambda self: self.kind.top, doc="Verilog top module name.")
    scheme = property(lambda self: self.kind.scheme, doc="The model scheme (:class:`sim.schemes.Scheme`).")
    modes = property(lambda self: self.kind.modes(self.config), doc="Run-time precision modes.")

    def replace(self, **changes) -> "TileDesign":
        """The design of the same kind with ``changes`` to its configuration (validated)."""
        return TileDesign.of(self.kind, replace(self.config, **changes))

    @property
    def tile_class(self) -> type:
        """The component class of the tile (:attr:`TileKind.tile`)."""
        return self.kind.tile(self.config)[0]

    @property
    def signature(self) -> wiring.Signature:
        """The tile's signature (its ports), from its class: no component is built."""
        return self.tile_class.tile_signature(self.config, COUNT_BITS)

    @functools.cached_property
    def component(self) -> wiring.Component:
        """The tile, an Amaranth component, built on first use: take it only to elaborate it
        (emission, simulation, whole-tile timing); what else a design says needs no component."""
        cls, options = self.kind.tile(self.config)
        return cls(self.config, count_bits=COUNT_BITS, **options)

    @property
    def latency(self) -> int:
        """Cycles a run takes beyond the sum of its step costs (always-ready streams): the tile
        class's ``LATENCY``, the sum of its blocks' own."""
        return self.tile_class.LATENCY

    @property
    def parameters(self) -> dict:
        """The configuration values the hardware of this kind depends on."""
        return self.kind.parameters(self.config)

    @functools.cached_property
    def manifest(self) -> Manifest:
        """What a testbench or a user needs to drive the generated tile."""
        c = self.config
        return Manifest(
            top=self.top,
            scheme=self.name,
            title=self.title,
            parameters={**self.parameters, "acc_bits": c.acc_bits, "count_bits": COUNT_BITS},
            modes=tuple(self.modes),
            ports=ports(self.signature),
            latency=self.latency,
            payloads=dict(self.kind.payloads),
            config_fields=tuple(ConfigField(n, f.width, f.offset)
                                for n, f in run_layout(c.act_bits, COUNT_BITS, c.fc_dispatch)),
            mode_codes=dict(MODE_CODES),
        )

    def synth_blocks(self) -> list[SynthBlock]:
        """The tile's distinct blocks, one new instance each (as the tile builds them), with their
        instance counts (:class:`hw.params.SynthBlock`); the tile itself is not built."""
        cls, options = self.kind.tile(self.config)
        return cls.synth_blocks(self.config, count_bits=COUNT_BITS, **options)

    def verilog(self) -> str:
        """The tile's Verilog (emitting the published tile takes about a minute)."""
        return to_verilog(self.component, self.top)


def _rebuild(name: str, config: TileConfig) -> TileDesign:
    return TileDesign(KINDS[name], config)


def check_given(kinds: Iterable[TileKind], config: TileConfig, given: Mapping[str, object] | Iterable[str],
                spell: Callable[[str], str] | None = None) -> None:
    """Refuse a configuration field set explicitly (``given``) that none of ``kinds`` uses, or
    that the configuration makes irrelevant to all of them (:attr:`TileKind.needs`)."""
    spell = spell or (lambda f: f)
    kinds = list(kinds)
    values = dict(given) if isinstance(given, Mapping) else {f: getattr(config, f) for f in given}
    for f, value in values.items():
        if f in MODEL_ONLY:
            continue
        users = [k for k in kinds if f in k.params]
        if not users:
            k = kinds[0]
            raise ConfigError(f"{spell(f)} {value} does not apply to the {k.name} tile "
                              f"(its options: {', '.join(spell(p) for p in k.params)})")
        if all(f in k.unused(config) for k in users):
            raise ConfigError(f"{spell(f)} {value} applies only to {users[0].needs[f][1]}")


def designs(names: Iterable[str], config: TileConfig = TileConfig(), *,
            given: Mapping[str, object] | Iterable[str] = (), spell: Callable[[str], str] | None = None) -> list[TileDesign]:
    """One design per kind of ``names`` for one configuration (as a side-by-side synthesis
    wants): a given field must apply to at least one of them."""
    kinds = [kind(n) for n in names]
    check_given(kinds, config, given, spell)
    return [TileDesign.of(k, config) for k in kinds]
