"""YAML documents that remember the line of every key (``file:line: key.path`` errors).

:func:`parse_yaml` / :func:`read_yaml` give a :class:`YamlDoc`: the plain data (safe
loader: no tags are constructed beyond YAML's own) and, per key path, the line it
stands on, so that every configuration error can name ``file:line: a.b.c``.
:class:`OverlayDoc` reports keys overridden on the command line as ``--set key=value``.
Syntax errors become :class:`~eie_sim.errors.ConfigError` with their line.
"""
from __future__ import annotations

import pathlib
from typing import Any

import yaml

from eie_sim.errors import ConfigError


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
    """``a.b[0].c`` for a key path."""
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")


def _walk(node: yaml.Node, path: tuple, lines: dict, source: str, loader: yaml.SafeLoader):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise ConfigError(f"{source}:{knode.start_mark.line + 1}: {dotted(path) or 'top level'}: "
                                  f"keys must be plain names")
            key = loader.construct_object(knode)
            if not isinstance(key, str):
                raise ConfigError(f"{source}:{knode.start_mark.line + 1}: {dotted(path + (key,))}: "
                                  f"keys must be names, got {key!r}")
            if key in out:
                raise ConfigError(f"{source}:{knode.start_mark.line + 1}: {dotted(path + (key,))}: "
                                  f"duplicate key (first at line {lines[path + (key,)]})")
            lines[path + (key,)] = knode.start_mark.line + 1
            out[key] = _walk(vnode, path + (key,), lines, source, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, path + (i,), lines, source, loader) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, source: str = "<string>") -> YamlDoc:
    """Parse YAML keeping key lines; a syntax error becomes a ConfigError with its line."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return YamlDoc({}, {}, source)
            lines: dict = {}
            data = _walk(node, (), lines, source, loader)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{source}{line}: malformed YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {exc}") from None
    return YamlDoc(data, lines, source)


def read_yaml(path: str | pathlib.Path) -> YamlDoc:
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration file: {exc}") from None
    return parse_yaml(text, str(path))


class OverlayDoc(YamlDoc):
    """A document whose overridden keys are reported as ``--set key=value``."""

    def __init__(self, base: YamlDoc, sets: dict[tuple, str]):
        super().__init__(base.data, base.lines, base.source)
        self.sets = sets

    def where(self, path: tuple) -> str:
        p = tuple(path)
        while p:
            if p in self.sets:
                return f"--set {self.sets[p]}: {dotted(path)}"
            p = p[:-1]
        return super().where(path)
