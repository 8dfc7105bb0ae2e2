"""Protobuf *text format* reader, as Caffe writes prototxt files.

:func:`parse_text` reads ``name { ... }`` blocks, ``key: value`` scalars, repeated keys and
``#`` comments into a :class:`~compressor.textmsg.Message` (defined in
:mod:`compressor.textmsg`, re-exported here): an ordered mapping from field name to the
**list** of values given for it (every field is treated as repeatable; there is no
schema here). Scalars become ``str`` (quoted strings), ``int``/``float`` (numbers),
``bool`` (``true``/``false``) or :class:`~compressor.textmsg.Enum` (bare identifiers
such as ``MAX``).
:mod:`compressor.caffe.prototxt` turns the parsed message into a network.

Every error is a :class:`~compressor.errors.PrototxtError` naming the line. Tokens are
read as the parser needs them (memory in proportion to the fields, not the characters),
and blocks nest at most :data:`MAX_DEPTH` levels.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import PrototxtError
from ..textmsg import Enum, Message

__all__ = ["Enum", "Message", "parse_text"]

#: deepest nesting of ``{ ... }`` blocks (Caffe's own files nest 3 or 4 levels)
MAX_DEPTH = 100


# --------------------------------------------------------------------------- lexer
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[fF]?(?![A-Za-z_0-9]))
  | (?P<ident>[-+]?[A-Za-z_][A-Za-z_0-9.]*)
  | (?P<punct>[{}:;,\[\]<>])
    """,
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


@dataclass
class _Tok:
    kind: str
    text: str
    line: int


def _unescape(body: str, line: int) -> str:
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body):
                raise PrototxtError(f"line {line}: dangling backslash in string")
            e = body[i + 1]
            if e not in _ESCAPES:
                raise PrototxtError(f"line {line}: unsupported escape \\{e} in string")
            out.append(_ESCAPES[e])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _tokenize(text: str) -> Iterator[_Tok]:
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            snippet = text[pos:pos + 20].split("\n")[0]
            raise PrototxtError(f"line {line}: unknown syntax at {snippet!r}")
        kind = m.lastgroup
        tok = m.group()
        if kind == "nl":
            line += 1
        elif kind not in ("ws", "comment"):
            yield _Tok(kind, tok, line)
        pos = m.end()
    yield _Tok("eof", "", line)


# -------------------------------------------------------------------------- parser
def _scalar(tok: _Tok) -> Any:
    if tok.kind == "string":
        return _unescape(tok.text[1:-1], tok.line)
    if tok.kind == "number":
        t = tok.text.rstrip("fF")
        try:
            if re.fullmatch(r"[-+]?\d+", t):
                return int(t)
            return float(t)
        except ValueError as exc:  # an integer of more than 4300 digits
            raise PrototxtError(f"line {tok.line}: number {t[:20]}... cannot be read ({exc})") from None
    if tok.kind == "ident":
        low = tok.text.lower()
        if low in ("true", "false"):
            return low == "true"
        if low.lstrip("+-") in ("inf", "infinity", "nan"):
            return float(low)
        return Enum(tok.text)
    raise PrototxtError(f"line {tok.line}: expected a value, found {tok.text or 'end of file'!r}")


class _Lookahead:
    """``toks[i]`` over a token iterator for a parser that reads each index in turn and
    never looks back: only the current token is kept."""

    def __init__(self, it: Iterator[_Tok]):
        self.it, self.i, self.tok = it, -1, None

    def __getitem__(self, i: int) -> _Tok:
        while self.i < i:
            self.tok = next(self.it)
            self.i += 1
        if i != self.i:
            raise IndexError(f"token {i} was already read")
        return self.tok


def parse_text(text: str) -> Message:
    """Parse protobuf text format into a :class:`Message` (see module docstring)."""
    toks = _Lookahead(_tokenize(text))
    i = 0
    root = Message(0)
    stack: list[tuple[Message, _Tok]] = []
    cur = root

    while True:
        t = toks[i]
        if t.kind == "eof":
            if stack:
                _, opener = stack[-1]
                raise PrototxtError(f"line {opener.line}: block opened here is never closed (missing '}}')")
            return root
        if t.kind == "punct" and t.text in "};,":
            if t.text == "}":
                if not stack:
                    raise PrototxtError(f"line {t.line}: '}}' without a matching '{{'")
                cur, _ = stack.pop()
            i += 1  # ';' and ',' are optional field separators
            continue
        if t.kind != "ident":
            raise PrototxtError(f"line {t.line}: expected a field name, found {t.text!r}")
        key = t.text
        i += 1
        nxt = toks[i]
        colon = False
        if nxt.kind == "punct" and nxt.text == ":":
            colon = True
            i += 1
            nxt = toks[i]
        if nxt.kind == "punct" and nxt.text in "{<":
            if nxt.text == "<":
                raise PrototxtError(f"line {nxt.line}: '<...>' message delimiters are not supported")
            if len(stack) >= MAX_DEPTH:
                raise PrototxtError(f"line {nxt.line}: blocks nested deeper than {MAX_DEPTH} levels")
            child = Message(nxt.line)
            cur.add(key, child)
            stack.append((cur, nxt))
            cur = child
            i += 1
            continue
        if not colon:
            raise PrototxtError(f"line {nxt.line}: expected ':' or '{{' after field {key!r}, found "
                                f"{nxt.text or 'end of file'!r}")
        if nxt.kind == "punct" and nxt.text == "[":
            i += 1
            while True:
                v = toks[i]
                if v.kind == "punct" and v.text == "]":
                    i += 1
                    break
                cur.add(key, _scalar(v))
                i += 1
                sep = toks[i]
                if sep.kind == "punct" and sep.text == ",":
                    i += 1
                elif not (sep.kind == "punct" and sep.text == "]"):
                    raise PrototxtError(f"line {sep.line}: expected ',' or ']' in list for {key!r}")
            continue
        # adjacent quoted strings concatenate, as in protobuf text format
        if nxt.kind == "string":
            parts = [_scalar(nxt)]
            i += 1
            while toks[i].kind == "string":
                parts.append(_scalar(toks[i]))
                i += 1
            cur.add(key, "".join(parts))
            continue
        cur.add(key, _scalar(nxt))
        i += 1
