"""YAML documents that remember the line of every key (``file:line: key.path`` errors).

:func:`parse_yaml` / :func:`read_yaml` give a :class:`YamlDoc`: the plain data (safe
loader) and, per key path, the line it stands on, so that every configuration error can
name ``file:line: a.b.c``. :class:`OverlayDoc` reports keys overridden on the command
line as ``--set key=value``. Syntax errors become :class:`~eie_sim.errors.ConfigError`
with their line, on one line.

Hostile input is refused before it costs time or memory (docs/config.md, "Limits"):
a file that is not a regular file (``/dev/zero``, a pipe) or larger than
:data:`MAX_YAML_BYTES`, a NUL byte, any explicit tag (``!!python/...``, ``!!str``,
``!foo``), more than :data:`MAX_ALIASES` aliases, nesting deeper than :data:`MAX_DEPTH`
levels, an alias that contains itself, and a document whose aliases expand to more than
:data:`MAX_NODES` nodes (billion laughs).

Plain scalars resolve as in YAML 1.1 (PyYAML's safe loader: ``yes``/``no``/``on``/``off``
booleans, ``~``/``null``, dates, ``0x``/``0b`` integers, ``1_000``) with the numbers of
the YAML 1.2 core schema added: ``1e-300``, ``8e2``, ``+.5``, ``1.5e3`` and ``0o17`` are
numbers (YAML 1.1 made them text). Forms the two versions read as different numbers are
refused with their line (``0777``: octal in 1.1, decimal in 1.2; ``1:20``: base 60 in
1.1, text in 1.2), and so are merge keys (``<<: *anchor``). ``=`` is text.
"""
from __future__ import annotations

import pathlib
import re
from typing import Any

import yaml

from compressor.fileio import FileRefused, read_bounded
from eie_sim.errors import ConfigError

#: largest YAML document read (configuration, energy table, ``--set`` value), bytes
MAX_YAML_BYTES = 1 << 20
#: most aliases (``*name``) in one document
MAX_ALIASES = 100
#: deepest nesting of mappings and sequences (aliases expanded)
MAX_DEPTH = 32
#: most nodes of one document once its aliases are expanded
MAX_NODES = 100_000


class _Refused(Exception):
    """A limit of this module, raised inside the loader (line, message, and the words
    before the message: ``refused YAML: `` unless given)."""

    def __init__(self, line: int | None, msg: str, prefix: str = "refused YAML: "):
        super().__init__(msg)
        self.line, self.msg, self.prefix = line, msg, prefix


_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
#: integers: YAML 1.1's decimal, binary and hexadecimal forms (``_`` separators) and YAML
#: 1.2's ``0o`` octal (the constructor reads ``0o17`` as octal 15)
_INT_RE = re.compile(r"[-+]?(?:0|[1-9][0-9_]*|0b[01_]+|0x[0-9a-fA-F_]+|0o[0-7]+)")
#: floats: YAML 1.1's (a dot required) and YAML 1.2 core's (``1e-300``, ``+.5``, an
#: exponent without a sign), ``.inf`` and ``.nan`` in their three spellings
_FLOAT_RE = re.compile(r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
#: numbers YAML 1.1 and YAML 1.2 read differently: refused (the text says why)
_AMBIGUOUS = (
    (re.compile(r"[-+]?0[0-9_]+"), "a number with a leading zero means octal (or text) in "
                                   "YAML 1.1 and decimal in YAML 1.2; write it without the zero (0o17 for "
                                   "octal), or quote it for text"),
    (re.compile(r"[-+]?(?:[1-9][0-9_]*(?::[0-5]?[0-9])+|[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*)"),
     "a base-60 number in YAML 1.1 and text in YAML 1.2; write the number, or quote it "
     "for text"))
#: the safe loader's resolvers less numbers (above), merge keys (refused) and ``=``
_RESOLVERS = {first: [(tag, rx) for tag, rx in rules if tag.rsplit(":", 1)[-1] not in
                      ("int", "float", "merge", "value")]
              for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _number_tag(kind, value: str, implicit) -> str | None:
    """The int or float tag of a plain scalar that is a number, else None."""
    if kind is yaml.ScalarNode and implicit[0]:
        if _INT_RE.fullmatch(value):
            return _INT
        if _FLOAT_RE.fullmatch(value):
            return _FLOAT
    return None


def _number_problem(value: str) -> str | None:
    """Why a plain scalar is refused as an ambiguous number, or None."""
    for rx, why in _AMBIGUOUS:
        if rx.fullmatch(value):
            return f"{value}: {why}"
    return None


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases, limits nesting and refuses explicit tags, merge
    keys and ambiguous numbers while composing (before anything is constructed); plain
    numbers resolve by :data:`_INT_RE` and :data:`_FLOAT_RE`."""

    yaml_implicit_resolvers = _RESOLVERS

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(line, f"more than {MAX_ALIASES} aliases (*name); the limit "
                                     "keeps alias expansion bounded")
        elif getattr(event, "tag", None) is not None:
            raise _Refused(line, f"tag {event.tag} is not allowed (tags are refused, write "
                                 "plain values)")
        elif isinstance(event, yaml.ScalarEvent) and event.implicit[0]:
            if event.value == "<<" and isinstance(parent, yaml.MappingNode) and index is None:
                raise _Refused(line, "merge keys (<<) are not supported; write the keys out",
                               prefix="")
            why = _number_problem(event.value)
            if why:
                raise _Refused(line, why, prefix="")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(line, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def resolve(self, kind, value, implicit):
        return _number_tag(kind, value, implicit) or super().resolve(kind, value, implicit)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that resolves plain scalars as :class:`_LimitedLoader` does, so that a
    string it would read as a number (``1e5``), refuse (``08``, ``<<``) is quoted."""

    yaml_implicit_resolvers = _RESOLVERS

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0] and (value == "<<" or _number_problem(value)):
            return "tag:eie,2024:quoted"       # no plain form: the emitter quotes it
        return _number_tag(kind, value, implicit) or super().resolve(kind, value, implicit)


def dump_yaml(data: Any) -> str:
    """YAML text of plain data (mappings, lists, strings, numbers, booleans, None) that
    :func:`parse_yaml` reads back equal, keys in their order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False)


class YamlDoc:
    """Plain data of a YAML document plus the line of every key path."""

    def __init__(self, data: Any, lines: dict[tuple, int], source: str):
        self.data, self.lines, self.source = data, lines, source

    def where(self, path: tuple) -> str:
        """``file:line: a.b.c`` for a key path (line of the nearest known ancestor)."""
        p = tuple(path)
        while p and p not in self.lines:
            p = p[:-1]
        line = self.lines.get(p)
        loc = f"{self.source}:{line}" if line else self.source
        return f"{loc}: {dotted(path)}" if path else loc


def dotted(path) -> str:
    """``a.b[0].c`` for a key path (a key that is not printable text on one line, e.g.
    with a newline, is shown quoted with escapes: every error stays one line)."""
    return ".".join(f"[{p}]" if isinstance(p, int) else shown(str(p)) for p in path).replace(".[", "[")


def shown(text: str) -> str:
    """``text`` as it is when printable, else quoted with escapes (one line)."""
    return text if text.isprintable() else repr(text)


def _walk(node: yaml.Node, path: tuple, lines: dict, source: str, loader: yaml.SafeLoader,
          state: dict | None = None):
    state = state if state is not None else {"nodes": 0, "open": set()}
    line = node.start_mark.line + 1
    lines.setdefault(path, line)
    state["nodes"] += 1
    if state["nodes"] > MAX_NODES:
        raise _Refused(line, f"the document expands to more than {MAX_NODES} values "
                             "(aliases repeating aliases)")
    if len(path) > MAX_DEPTH:
        raise _Refused(line, f"nested deeper than {MAX_DEPTH} levels (aliases expanded)")
    if not isinstance(node, yaml.ScalarNode):
        if id(node) in state["open"]:
            raise _Refused(line, f"{dotted(path) or 'top level'}: an alias refers to a "
                                 "mapping or list that contains it (recursive alias)")
        state["open"].add(id(node))
        try:
            return _walk_collection(node, path, lines, source, loader, state)
        finally:
            state["open"].discard(id(node))
    return _scalar(node, path, loader)


def _scalar(node: yaml.ScalarNode, path: tuple, loader: yaml.SafeLoader):
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError) as exc:   # e.g. a date that is no date
        raise _Refused(node.start_mark.line + 1, f"{dotted(path) or 'value'}: cannot read "
                       f"{str(node.value)[:40]!r} ({_one_line(exc)})") from None


def _walk_collection(node, path, lines, source, loader, state):
    if isinstance(node, yaml.MappingNode):
        out = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise ConfigError(f"{source}:{knode.start_mark.line + 1}: {dotted(path) or 'top level'}: "
                                  f"keys must be plain names")
            key = _scalar(knode, path, loader)
            if not isinstance(key, str):
                raise ConfigError(f"{source}:{knode.start_mark.line + 1}: {dotted(path + (key,))}: "
                                  f"keys must be names, got {key!r}")
            if key in out:
                raise ConfigError(f"{source}:{knode.start_mark.line + 1}: {dotted(path + (key,))}: "
                                  f"duplicate key (first at line {lines[path + (key,)]})")
            lines[path + (key,)] = knode.start_mark.line + 1
            out[key] = _walk(vnode, path + (key,), lines, source, loader, state)
        return out
    return [_walk(v, path + (i,), lines, source, loader, state) for i, v in enumerate(node.value)]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def parse_yaml(text: str, source: str = "<string>") -> YamlDoc:
    """Parse YAML keeping key lines; a syntax error or a refused document (see the module
    docstring) becomes a one-line ConfigError with its line."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{source}: {len(text)} characters, more than the {MAX_YAML_BYTES}-byte "
                          "limit of a YAML document")
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ConfigError(f"{source}:{line}: malformed YAML: a NUL byte (not a text file)")
    try:
        loader = _LimitedLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return YamlDoc({}, {}, source)
            lines: dict = {}
            data = _walk(node, (), lines, source, loader)
        finally:
            loader.dispose()
    except _Refused as exc:
        line = f":{exc.line}" if exc.line else ""
        raise ConfigError(f"{source}{line}: {exc.prefix}{exc.msg}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = " ".join((exc.problem or exc.context or "syntax error").split())
        raise ConfigError(f"{source}{line}: malformed YAML: {what}") from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise ConfigError(f"{source}:{line}: malformed YAML: unacceptable character "
                          f"#x{exc.character:04x}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {_one_line(exc)}") from None
    except RecursionError:  # not reached within the limits above; never a traceback
        raise ConfigError(f"{source}: refused YAML: nested too deeply") from None
    return YamlDoc(data, lines, source)


def read_text(path: str | pathlib.Path, what: str = "configuration file") -> str:
    """The UTF-8 text of ``path`` (read by :func:`compressor.fileio.read_bounded`); a
    ConfigError naming it when it is missing, a directory, not a regular file (a device
    such as ``/dev/zero`` or a pipe: never read), larger than :data:`MAX_YAML_BYTES`,
    unreadable or not UTF-8."""
    path = pathlib.Path(path)
    try:
        raw = read_bounded(path, MAX_YAML_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except FileRefused as r:
        if r.reason == "too large":
            raise ConfigError(f"{path}: {what} of {r.size} bytes, more than the "
                              f"{MAX_YAML_BYTES}-byte limit") from None
        if r.reason == "grew":
            raise ConfigError(f"{path}: {what} larger than the {MAX_YAML_BYTES}-byte limit") from None
        raise ConfigError(f"{path}: cannot read {what}: {r.detail}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        a = "an" if what[0] in "aeiou" else "a"
        raise ConfigError(f"{path}: not {a} {what} (not UTF-8 text): byte {exc.start}") from None


def read_yaml(path: str | pathlib.Path, what: str = "configuration file") -> YamlDoc:
    """:func:`read_text` then :func:`parse_yaml` (errors name ``path`` and the line)."""
    return parse_yaml(read_text(path, what), str(pathlib.Path(path)))


class OverlayDoc(YamlDoc):
    """A document whose overridden keys are reported by the override that set them
    (``sets``: key path -> its label, ``--set key=value`` or a flag such as ``--pes 32``)."""

    def __init__(self, base: YamlDoc, sets: dict[tuple, str]):
        super().__init__(base.data, base.lines, base.source)
        self.sets = sets

    def where(self, path: tuple) -> str:
        p = tuple(path)
        while p:
            if p in self.sets:
                return f"{self.sets[p]}: {dotted(path)}"
            p = p[:-1]
        return super().where(path)
