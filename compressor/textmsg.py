"""The parsed protobuf text-format message: the value type a text-format reader produces.

A :class:`Message` is an ordered mapping from field name to the **list** of values given
for it (every field is treated as repeatable; there is no schema). Scalars are ``str``,
``int``/``float``, ``bool`` or :class:`Enum` (bare identifiers such as ``MAX``); nested
blocks are Messages. :func:`compressor.caffe.textformat.parse_text` builds one from a
Caffe prototxt, and :class:`compressor.graph.net.Layer` keeps its layer's message in
``params`` (so the graph needs this type but not the Caffe reader).

Accessor errors are :class:`~compressor.errors.PrototxtError` naming the line.
"""
from __future__ import annotations

from typing import Any

from .errors import PrototxtError

__all__ = ["Enum", "Message"]


class Enum(str):
    """A bare identifier value (protobuf enum), e.g. ``pool: MAX`` -> ``Enum("MAX")``."""

    def __repr__(self) -> str:
        return f"Enum({str.__repr__(self)})"


class Message(dict):
    """A parsed text-format message: field name -> list of values, in file order.

    ``line`` is the 1-based line where the message's opening brace stood (0 for the
    top level). Convenience accessors :meth:`one` and :meth:`all` read fields.
    """

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line

    def add(self, key: str, value: Any) -> None:
        self.setdefault(key, []).append(value)

    def all(self, key: str) -> list[Any]:
        """Every value given for ``key`` (empty list when absent)."""
        return list(self.get(key, []))

    def one(self, key: str, default: Any = None) -> Any:
        """The single value of ``key``; ``default`` when absent; error when repeated."""
        vals = self.get(key, [])
        if not vals:
            return default
        if len(vals) > 1:
            raise PrototxtError(f"line {self.line}: field {key!r} given {len(vals)} times, expected once")
        return vals[0]
