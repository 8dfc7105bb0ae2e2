"""One schema per configuration dataclass: each field's allowed values, unit and doc.

A field of :class:`~eie_sim.arch.config.ArchConfig` or
:class:`~eie_sim.arch.config.RunOptions` is declared with :func:`spec`, which stores a
:class:`Spec` in the field's metadata. Everything that states what a key accepts reads it
from there: ``ArchConfig.validate``, the YAML checks of the ``run:`` block and the
architecture keys in
:mod:`eie_sim.arch.config_io` (:func:`check`), the ``--help`` texts of the command-line
tools and the key tables of ``docs/config.md`` (:func:`markdown_table`; a test keeps the
document equal to it).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from eie_sim.errors import ConfigError

#: the kinds of value a field takes
KINDS = ("int", "float", "bool", "choice", "path", "address")


@dataclass(frozen=True)
class Spec:
    """What one configuration key accepts, and what it means."""

    kind: str                              #: one of :data:`KINDS`
    doc: str                               #: meaning (docs table, --help)
    range: tuple | None = None             #: int: ``lo..hi`` inclusive; float: ``(lo, hi]``
    optional: bool = False                 #: null (None, the default) is allowed too
    choices: tuple[str, ...] = ()          #: kind ``choice``: the allowed values
    unit: str = ""                         #: unit of the value (KB, bits, MHz, cycles)
    source: str = ""                       #: where the value comes from (docs table)
    note: str = ""                         #: cross-field limits (docs table, after the range)
    text: str = ""                         #: allowed values in words when not derived
    shown: str = ""                        #: allowed values in the docs table when not derived


def spec(default: Any, kind: str, doc: str, **kw) -> Any:
    """A dataclass field with ``default`` whose metadata holds its :class:`Spec`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    return dataclasses.field(default=default, metadata={"spec": Spec(kind, doc, **kw)})


@functools.cache
def specs(cls) -> dict[str, Spec]:
    """``name -> Spec`` of every field of a configuration dataclass, in field order."""
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls) if "spec" in f.metadata}


def defaults(cls) -> dict[str, Any]:
    """``name -> default`` of every field of a configuration dataclass."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


def _range_text(s: Spec) -> str:
    lo, hi = s.range
    return f"({lo:g}, {hi:g}]" if s.kind == "float" else f"{lo}..{hi}"


def allowed(s: Spec) -> str:
    """What the key accepts, in words (``an integer in 1..1024``, ``one of fast, simpy, analytical``)."""
    if s.text:
        return s.text
    if s.kind == "int":
        return ("null or " if s.optional else "") + f"an integer in {_range_text(s)}"
    if s.kind == "float":
        return f"a number in {_range_text(s)}"
    if s.kind == "bool":
        return "true or false"
    if s.kind == "choice":
        return f"one of {', '.join(s.choices)}"
    return "?"


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _in_range(s: Spec, v) -> bool:
    lo, hi = s.range
    return lo < v <= hi if s.kind == "float" else lo <= v <= hi


def _type_ok(s: Spec, v) -> bool:
    if s.kind == "int":
        return _is_int(v)
    if s.kind == "float":
        return not isinstance(v, bool) and isinstance(v, (int, float))
    if s.kind == "bool":
        return isinstance(v, bool)
    if s.kind == "choice":
        return v in s.choices
    if s.kind == "path":
        return isinstance(v, str) and v != ""
    return isinstance(v, str) and "://" in v            # address


def check(s: Spec, value: Any, where: str, *, coerce: bool = True, typename: bool = True,
          range_message: bool = True) -> Any:
    """Type and range of one value against its spec; returns it (``coerce``: an integral
    float as int, an int as float for a float key).

    Errors start with ``where``: ``expected <allowed>, got <value>`` (with its type when
    ``typename``), or, with ``range_message``, ``<value> is outside the allowed range``.
    """
    if value is None and s.optional:
        return None
    if coerce and s.kind == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)                   # 64.0 is accepted for integers everywhere
    if not _type_ok(s, value) or (s.range and not range_message and not _in_range(s, value)):
        got = f" ({type(value).__name__})" if typename else ""
        raise ConfigError(f"{where}: expected {allowed(s)}, got {value!r}{got}")
    if s.range and not _in_range(s, value):
        raise ConfigError(f"{where}: {value} is outside the allowed range {_range_text(s)}")
    return float(value) if coerce and s.kind == "float" else value


def check_fields(obj) -> None:
    """Every field of a configuration dataclass instance against its spec (no coercion);
    raises :class:`ConfigError` ``name: ...`` for the first bad one."""
    for name, s in specs(type(obj)).items():
        check(s, getattr(obj, name), name, coerce=False, typename=False)


# ------------------------------------------------------------------ documentation
def _num(v) -> str:
    if _is_int(v) and v >= 1 << 20 and v & (v - 1) == 0:
        return f"2^{v.bit_length() - 1}"
    return str(v)


def _default(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"`{'true' if v else 'false'}`"
    if isinstance(v, str):
        return f"`{v}`"
    return str(v)


def shown(s: Spec) -> str:
    """The allowed values as the docs table shows them (``1..2^20``, ``null or 0..31``)."""
    if s.shown:
        text = s.shown
    elif s.kind == "int":
        text = ("null or " if s.optional else "") + f"{_num(s.range[0])}..{_num(s.range[1])}"
    elif s.kind == "float":
        text = _range_text(s)
    elif s.kind == "bool":
        text = "bool"
    elif s.kind == "choice":
        text = ", ".join(f"`{c}`" for c in s.choices)
    else:
        text = "path"
    return f"{text} ({s.note})" if s.note else text


def markdown_table(cls) -> str:
    """The key table of ``docs/config.md`` for a configuration dataclass: key, default,
    allowed values, meaning (with the unit), and source when any field names one."""
    sp, dflt = specs(cls), defaults(cls)
    with_source = any(s.source for s in sp.values())
    head = ["key", "default", "allowed", "meaning"] + (["source"] if with_source else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in sp.items():
        meaning = f"{s.doc} ({s.unit})" if s.unit else s.doc
        cells = [f"`{name}`", _default(dflt[name]), shown(s), meaning]
        lines.append("| " + " | ".join(cells + ([s.source] if with_source else [])) + " |")
    return "\n".join(lines)
