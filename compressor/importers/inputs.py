"""What a user says about a graph's inputs: ``NAME=1x3x48x48`` shapes (for symbolic
dimensions) and ``NAME=16000`` fixed values (an integer setting such as a sample rate,
which then selects an ``If`` branch at import), parsed into the plain dictionaries the
importer takes (:func:`compressor.importers.load_model`: ``input_shapes``,
``input_values``). ``eie-compress import --input-shape / --input-value`` use them."""
from __future__ import annotations

import re

import numpy as np

from ..errors import ModelImportError

__all__ = ["parse_input_shape", "parse_input_value", "input_shapes_from", "input_values_from"]

_NAME = r"(?P<name>[^=\s]+)"
_MAX_DIM = 1 << 24


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"NAME=1x3x48x48"`` -> ``("NAME", (1, 3, 48, 48))``; sizes 1 .. 2**24."""
    m = re.fullmatch(_NAME + r"=(?P<dims>\d+(?:x\d+)*)", text.strip())
    if not m:
        raise ModelImportError(f"input shape {text!r}: expected NAME=D1xD2x... (e.g. "
                               "input=1x3x48x48)")
    dims = tuple(int(d) for d in m["dims"].split("x"))
    if any(not 1 <= d <= _MAX_DIM for d in dims) or len(dims) > 8:
        raise ModelImportError(f"input shape {text!r}: 1 to 8 sizes, each 1..{_MAX_DIM}")
    return m["name"], dims


def parse_input_value(text: str) -> tuple[str, np.ndarray]:
    """``"sr=16000"`` -> ``("sr", int64 16000)``; ``"t=0.5"`` a float32; ``"v=1,2,3"`` a
    1-D array (integers when every value is one)."""
    m = re.fullmatch(_NAME + r"=(?P<vals>[-+0-9.eE,]+)", text.strip())
    if not m:
        raise ModelImportError(f"input value {text!r}: expected NAME=NUMBER or NAME=N1,N2,...")
    parts = m["vals"].split(",")
    try:
        if all(re.fullmatch(r"[-+]?\d+", p) for p in parts):
            vals = np.array([int(p) for p in parts], dtype=np.int64)
        else:
            vals = np.array([float(p) for p in parts], dtype=np.float32)
    except (ValueError, OverflowError):
        raise ModelImportError(f"input value {text!r}: not numbers") from None
    if not np.all(np.isfinite(vals)) or len(parts) > 1 << 16:
        raise ModelImportError(f"input value {text!r}: finite numbers, at most 65536")
    return m["name"], vals.reshape(()) if len(parts) == 1 else vals


def _collect(items, parse, what):
    out = {}
    for text in items or ():
        name, v = parse(text)
        if name in out:
            raise ModelImportError(f"{what} {name!r} given twice")
        out[name] = v
    return out


def input_shapes_from(items) -> dict[str, tuple[int, ...]]:
    """Several ``NAME=AxBx...`` texts as one dictionary (a name given twice is an error)."""
    return _collect(items, parse_input_shape, "input shape")


def input_values_from(items) -> dict[str, np.ndarray]:
    """Several ``NAME=VALUE`` texts as one dictionary."""
    return _collect(items, parse_input_value, "input value")
