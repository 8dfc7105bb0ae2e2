"""What to run: the ``workload:`` block (or the equivalent ``eie-simulate`` flag) as one typed,
tagged :class:`WorkloadSpec`, checked once where it is read.

Exactly one kind key names the workload; the other keys are the kind's options
(docs/config.md "workload:"):

=============  ==========================================================================
kind           keys
=============  ==========================================================================
``table3``     a Table III name, a list of names or ``all`` (synthetic layers); ``layers``
``synthetic``  one spec or a list of specs (:data:`SYNTHETIC_KEYS`); ``layers``
``npz``        a file: one layer (``codes`` + ``codebook`` or ``weights``) or a model in the
               ``.npz`` convention; ``input``, ``act_density``
``model``      a model file (``.dcmp``, ``.onnx``, ``.safetensors``, ``.npz``); ``layers``,
               ``input`` (a file or folder, or a list), ``act_density``, ``mode``
               (``chained``, the default, or ``per-layer``), ``images`` (package image
               names), ``float_model`` (the float file to compare with),
               ``image_preprocess`` (``caffe`` or ``unit``), ``input_shape`` /
               ``input_value`` (sizes of symbolic input dimensions, fixed input values:
               passed to the importer when an ``.onnx`` / ``.safetensors`` is read)
``network``    a network of :mod:`compressor.zoo` (synthetic weights); ``positions``,
               ``input_size``, ``layers``; or an LLM of :mod:`eie_sim.workloads.llm`
               (one decode step of its FC layers): ``weight_density``,
               ``act_threshold``, ``prune``, ``context``, ``blocks``, ``layers``
``squeezenet`` the authors' SqueezeNet folder (``""``: the default); ``positions``,
               ``layers``; ``images`` runs those images chained on EIE instead
``lenet``      a compressed LeNet-300-100 file, MNIST accuracy on EIE; ``images`` (a
               count), ``mnist_dir``
=============  ==========================================================================

Parsing builds nothing and reads no file: :func:`eie_sim.workloads.files.from_spec` builds
the layers, the applications run the networks. Every error names the key where it is
(``workload.positions``, ``file.yaml:7: workload.positions`` or the command-line flag).
:meth:`WorkloadSpec.block` gives the block back (a bundle's ``config.yaml``, a sweep
point's overrides).
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field
from typing import Any, Callable

from eie_sim.arch.paper import TABLE3
from eie_sim.errors import ConfigError

#: keys of one synthetic layer in a ``workload: synthetic:`` block (docs/config.md)
SYNTHETIC_KEYS = ("name", "rows", "cols", "weight_density", "act_density", "seed", "bias",
                  "weight_scale")

#: the kind keys, and the option keys each kind takes
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "table3": ("layers",),
    "synthetic": ("layers",),
    "npz": ("input", "act_density"),
    "model": ("layers", "input", "act_density", "mode", "images", "float_model",
              "image_preprocess", "input_shape", "input_value"),
    "network": ("positions", "input_size", "layers") + ("weight_density", "act_threshold",
                                                         "prune", "context", "blocks"),
    "squeezenet": ("positions", "layers", "images"),
    "lenet": ("images", "mnist_dir"),
}
KINDS = tuple(KIND_KEYS)
#: the kinds that are layers (built by eie_sim.workloads.files.from_spec; what a sweep runs)
LAYER_KINDS = ("table3", "synthetic", "npz", "model")
#: every key a ``workload:`` block may hold
WORKLOAD_KEYS: tuple[str, ...] = KINDS + tuple(dict.fromkeys(k for ks in KIND_KEYS.values() for k in ks))
#: keys holding file or folder paths (made absolute from the config file's folder)
PATH_KEYS = ("npz", "model", "input", "squeezenet", "lenet", "mnist_dir", "float_model")
#: how a model with a graph runs (eie_sim.sim.runner.MODES); the first is the default
MODEL_MODES = ("chained", "per-layer")
IMAGE_PREPROCESS = ("caffe", "unit")
#: the default output positions of a network (a sample per layer) and of SqueezeNet (all)
DEFAULT_POSITIONS = {"network": 64, "squeezenet": "all"}
DEFAULT_ACT_DENSITY = 0.5
DEFAULT_LENET_IMAGES = 100
#: magnitude pruning of an LLM's generated weights (eie_sim.workloads.llm)
PRUNE_MODES = ("global", "per-row")
#: the options that only an LLM ``network`` takes, and those only a compact network takes
LLM_KEYS = ("weight_density", "act_threshold", "prune", "context", "blocks")
#: keys a ``workload:`` block once took and where they live now (the error says so)
MOVED_KEYS = {"batch": "the tokens (input vectors) per step are the architecture key `batch` "
                       "(top level of the config, `--batch`): one key for every workload"}
CNN_KEYS = ("positions", "input_size")


@dataclass(frozen=True)
class WorkloadSpec:
    """One checked workload: its ``kind``, the kind's ``value`` (a file, a name, specs),
    its options and where it was given.

    ``label`` names it in errors (``workload`` or a flag such as ``--synthetic``);
    ``base_dir``: the folder relative paths are taken from (a config file's; None: the
    current directory).
    """

    kind: str
    value: Any
    layers: tuple[str, ...] | None = None
    input: str | None = None
    act_density: float | None = None
    positions: int | str | None = None
    input_size: str | None = None
    images: Any = None
    mnist_dir: str | None = None
    mode: str | None = None
    float_model: str | None = None
    image_preprocess: str | None = None
    #: LLM decode-step options (``network`` kind with an LLM name; docs/llm.md; the tokens
    #: per step are the architecture key ``batch``)
    weight_density: float | None = None
    act_threshold: float | None = None
    prune: str | None = None
    context: int | None = None
    blocks: int | None = None
    #: ``((input name, sizes), ...)``: the importer's ``input_shapes`` (symbolic dimensions)
    input_shape: tuple | None = None
    #: ``((input name, number or tuple of numbers), ...)``: the importer's ``input_values``
    input_value: tuple | None = None
    label: str = "workload"
    base_dir: str | None = field(default=None, compare=False)
    #: the block as it was given (its values as written: what :meth:`block` returns, what
    #: a bundle's config.yaml and a sweep's identity record)
    given: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def block(self) -> dict[str, Any]:
        """The ``workload:`` block this spec was read from, its values as written."""
        if self.given:
            return dict(self.given)
        out: dict[str, Any] = {self.kind: self.value}
        for key in KIND_KEYS[self.kind]:
            v = getattr(self, key)
            if v is None:
                continue
            if key == "input_shape":
                out[key] = {n: "x".join(map(str, d)) for n, d in v}
            elif key == "input_value":
                out[key] = {n: list(x) if isinstance(x, tuple) else x for n, x in v}
            else:
                out[key] = list(v) if key in ("layers", "input") and isinstance(v, tuple) else v
        return out

    def import_args(self) -> tuple[dict, dict]:
        """``(input_shapes, input_values)`` for :func:`compressor.importers.load_model`
        (name -> sizes; name -> a number or a list of numbers), empty when not given."""
        return (dict(self.input_shape or ()),
                {n: list(x) if isinstance(x, tuple) else x for n, x in self.input_value or ()})

    def input_paths(self) -> list[pathlib.Path]:
        """The absolute paths of ``input`` (one, or a list for a model)."""
        v = self.input
        if v is None:
            return []
        return [self._abs(p) for p in (v if isinstance(v, tuple) else (v,))]

    def path(self, key: str) -> pathlib.Path | None:
        """The absolute path of a path key (:data:`PATH_KEYS`), or None when not given
        (``input``: its first path)."""
        v = self.value if key == self.kind else getattr(self, key)
        if v is None or v == "":
            return None
        if isinstance(v, tuple):
            v = v[0]
        return self._abs(v)

    def _abs(self, v: str) -> pathlib.Path:
        p = pathlib.Path(v)
        if not p.is_absolute():
            p = (pathlib.Path(self.base_dir) if self.base_dir is not None else pathlib.Path.cwd()) / p
        return pathlib.Path(*p.parts).absolute()

    def absolute(self) -> "WorkloadSpec":
        """This spec with every path made absolute (for a bundle's ``config.yaml``)."""
        changes: dict[str, Any] = {k: str(self.path(k)) for k in PATH_KEYS
                                   if k in (self.kind,) + KIND_KEYS[self.kind]
                                   and self.path(k) is not None}
        if isinstance(self.input, tuple):
            changes["input"] = tuple(str(p) for p in self.input_paths())
        given = {**self.block(), **{k: list(v) if isinstance(v, tuple) else v
                                    for k, v in changes.items()}}
        value = changes.pop(self.kind, self.value)
        return WorkloadSpec(**{**self.__dict__, **changes, "value": value, "base_dir": None,
                               "given": given})

    @property
    def position_count(self) -> int | str:
        """``positions`` or the kind's default (:data:`DEFAULT_POSITIONS`)."""
        return self.positions if self.positions is not None else DEFAULT_POSITIONS.get(self.kind, "all")


def unknown_key(where: str, key: str, known) -> ConfigError:
    """The error for an unknown key, with the closest known key as a hint."""
    import difflib
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown key{hint}; known keys: {', '.join(known)}")


def _names(v: Any, where: str) -> tuple[str, ...]:
    """A comma-separated string or a list of non-empty names."""
    items = [x.strip() for x in v.split(",")] if isinstance(v, str) else v
    if not isinstance(items, list) or not items or not all(isinstance(x, str) and x for x in items):
        raise ConfigError(f"{where}: expected a layer name or a list of names, got {v!r}")
    return tuple(items)


#: the largest size of one input dimension and the most values of one fixed input
MAX_INPUT_DIM = 1 << 24
MAX_INPUT_VALUES = 1 << 16


def _dims(v: Any, where: str) -> tuple[int, ...]:
    """``"1x3x48x48"``, ``16`` or ``[1, 3, 48, 48]``: 1 to 8 sizes, each 1..2**24."""
    if isinstance(v, str):
        parts = v.strip().split("x")
        if not all(p.strip().isdigit() for p in parts):
            raise ConfigError(f"{where}: expected sizes D1xD2x... (e.g. 1x3x48x48), got {v!r}")
        dims = [int(p) for p in parts]
    elif isinstance(v, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in v):
        dims = list(v)
    elif isinstance(v, int) and not isinstance(v, bool):
        dims = [v]
    else:
        raise ConfigError(f"{where}: expected sizes D1xD2x... or a list of integers, got {v!r}")
    if not 1 <= len(dims) <= 8 or not all(1 <= d <= MAX_INPUT_DIM for d in dims):
        raise ConfigError(f"{where}: 1 to 8 sizes, each 1..{MAX_INPUT_DIM}, got {v!r}")
    return tuple(dims)


def _number(x: Any) -> int | float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return x if x == x and abs(x) != float("inf") else None
    if isinstance(x, str):
        t = x.strip()
        try:
            return int(t)
        except ValueError:
            pass
        try:
            f = float(t)
        except ValueError:
            return None
        return f if f == f and abs(f) != float("inf") else None
    return None


def _numbers(v: Any, where: str):
    """A finite number, a comma list of them or a list: the number, or a tuple."""
    items = v.split(",") if isinstance(v, str) else v if isinstance(v, list) else [v]
    nums = [_number(x) for x in items]
    if not items or any(n is None for n in nums) or len(nums) > MAX_INPUT_VALUES:
        raise ConfigError(f"{where}: expected a finite number or a list of at most "
                          f"{MAX_INPUT_VALUES} of them, got {v!r}")
    return nums[0] if len(nums) == 1 and not isinstance(v, list) else tuple(nums)


def _name_items(v: Any, where: str, parse: Callable[[Any, str], Any], what: str) -> tuple:
    """A mapping ``name: value`` or a list of ``NAME=VALUE`` texts (the command line's
    form) as ``((name, parsed value), ...)``; a name given twice is an error."""
    if isinstance(v, str):
        v = [v]
    if isinstance(v, dict) and v:
        pairs = [(k, x, f"{where}.{k}") for k, x in v.items()]
    elif isinstance(v, list) and v and all(isinstance(t, str) for t in v):
        pairs = []
        for t in v:
            name, eq, rest = t.partition("=")
            if not eq or not name.strip() or not rest.strip():
                raise ConfigError(f"{where}: expected NAME=VALUE, got {t!r} ({what})")
            pairs.append((name.strip(), rest.strip(), f"{where} {name.strip()}"))
    else:
        raise ConfigError(f"{where}: expected {what}, got {v!r}")
    out, seen = [], set()
    for name, x, at in pairs:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: input names must be non-empty text, got {name!r}")
        if name in seen:
            raise ConfigError(f"{where}: input {name!r} given twice")
        seen.add(name)
        out.append((name, parse(x, at)))
    return tuple(out)


def parse_workload(values: Any, where: Callable[..., str] | None = None,
                   label: str = "workload", base_dir: str | pathlib.Path | None = None
                   ) -> WorkloadSpec | None:
    """Check a ``workload:`` block (None: no block) and return its :class:`WorkloadSpec`.

    ``where(*keys)`` names a key for errors (a config file's ``file:line: workload.key``);
    default: ``label.key``. Raises :class:`ConfigError` naming the key."""
    if values is None:
        return None
    if where is None:
        def where(*k):
            return ".".join((label,) + tuple(map(str, k)))
    if not isinstance(values, dict):
        raise ConfigError(f"{where()}: expected a mapping with one of {', '.join(KINDS)}")
    for key in values:
        if key in MOVED_KEYS:
            raise ConfigError(f"{where(key)}: no longer a workload key: {MOVED_KEYS[key]}")
        if key not in WORKLOAD_KEYS:
            raise unknown_key(where(key), key, WORKLOAD_KEYS)
    kinds = [k for k in KINDS if k in values]
    if len(kinds) != 1:
        raise ConfigError(f"{where()}: give exactly one of {', '.join(KINDS)} (got {kinds or 'none'})")
    kind = kinds[0]
    for key in values:
        if key != kind and key not in KIND_KEYS[kind]:
            takes = [k for k, opts in KIND_KEYS.items() if key in opts]
            raise ConfigError(f"{where(key)}: applies to {' and '.join(takes)} workloads only "
                              f"(this is a {kind} workload; its keys: "
                              f"{', '.join(KIND_KEYS[kind]) or 'none'})")
    v = values[kind]
    if kind in ("npz", "model", "lenet") and not (isinstance(v, str) and v):
        raise ConfigError(f"{where(kind)}: expected a file path, got {v!r}")
    if kind == "squeezenet" and not isinstance(v, str):
        raise ConfigError(f"{where(kind)}: expected the SqueezeNet folder ('' for the default), got {v!r}")
    if kind == "network" and not (isinstance(v, str) and v):
        raise ConfigError(f"{where(kind)}: expected a network name, got {v!r}")
    if kind == "table3" and not (isinstance(v, str) and v or isinstance(v, list) and v):
        raise ConfigError(f"{where(kind)}: expected a Table III name, a list of names or all, got {v!r}")
    if kind == "synthetic" and not (isinstance(v, dict) or isinstance(v, list) and v
                                    and all(isinstance(x, dict) for x in v)):
        raise ConfigError(f"{where(kind)}: expected a mapping of {', '.join(SYNTHETIC_KEYS)} or a "
                          f"list of them")
    if kind == "table3":
        names = [n.strip() for n in v.split(",")] if isinstance(v, str) else v
        for i, n in enumerate(names):
            if not isinstance(n, str) or n != "all" and n not in TABLE3:
                at = where("table3") if isinstance(v, str) else where("table3", i)
                raise ConfigError(f"{at}: unknown Table III layer {n!r:.60}; known: "
                                  f"{', '.join(TABLE3)}, all")
    if kind == "synthetic":
        for i, spec in enumerate(v if isinstance(v, list) else [v]):
            for key in spec:
                if key not in SYNTHETIC_KEYS:
                    at = ("synthetic", i, key) if isinstance(v, list) else ("synthetic", key)
                    raise unknown_key(where(*at), key, SYNTHETIC_KEYS)
    opts: dict[str, Any] = {}
    for key in ("input", "mnist_dir", "float_model"):
        if key in values:
            pv = values[key]
            if key == "input" and kind == "model" and isinstance(pv, list) and pv and \
                    all(isinstance(x, str) and x for x in pv):
                opts[key] = tuple(pv) if len(pv) > 1 else pv[0]
                continue
            if not (isinstance(pv, str) and pv):
                raise ConfigError(f"{where(key)}: expected a file path"
                                  f"{' (or a list of them)' if key == 'input' and kind == 'model' else ''}"
                                  f", got {pv!r}")
            opts[key] = pv
    if "mode" in values:
        if values["mode"] not in MODEL_MODES:
            raise ConfigError(f"{where('mode')}: expected one of {', '.join(MODEL_MODES)}, got "
                              f"{values['mode']!r}")
        opts["mode"] = values["mode"]
    if "image_preprocess" in values:
        if values["image_preprocess"] not in IMAGE_PREPROCESS:
            raise ConfigError(f"{where('image_preprocess')}: expected one of "
                              f"{', '.join(IMAGE_PREPROCESS)}, got {values['image_preprocess']!r}")
        opts["image_preprocess"] = values["image_preprocess"]
    if "layers" in values:
        opts["layers"] = _names(values["layers"], where("layers"))
    if "input_shape" in values:
        opts["input_shape"] = _name_items(values["input_shape"], where("input_shape"), _dims,
                                          "input name -> sizes (tokens: 1x16, or a list "
                                          "NAME=1x16)")
    if "input_value" in values:
        opts["input_value"] = _name_items(values["input_value"], where("input_value"), _numbers,
                                          "input name -> a number or a list of numbers "
                                          "(sr: 16000, or a list NAME=16000)")
    if "act_density" in values:
        ad = values["act_density"]
        if isinstance(ad, bool) or not isinstance(ad, (int, float)) or not 0.0 <= ad <= 1.0:
            raise ConfigError(f"{where('act_density')}: expected a fraction in 0..1, got {ad!r}")
        opts["act_density"] = float(ad)
    if "positions" in values:
        pv = values["positions"]
        if isinstance(pv, str) and pv.strip().isdigit():
            pv = int(pv)
        if not (pv == "all" or (isinstance(pv, int) and not isinstance(pv, bool) and pv >= 1)):
            raise ConfigError(f"{where('positions')}: expected 'all' or a number >= 1, got {pv!r}")
        opts["positions"] = pv
    if "input_size" in values:
        if isinstance(values["input_size"], bool) or not isinstance(values["input_size"], (str, int)):
            raise ConfigError(f"{where('input_size')}: expected H or 'HxW', got {values['input_size']!r}")
        opts["input_size"] = str(values["input_size"])
    if "images" in values:
        im = values["images"]
        if kind == "lenet":
            if isinstance(im, bool) or not isinstance(im, int) or im < 1:
                raise ConfigError(f"{where('images')}: expected a number of MNIST test images >= 1, "
                                  f"got {im!r}")
        elif not (isinstance(im, str) and im or isinstance(im, list) and im
                  and all(isinstance(x, str) for x in im)):
            raise ConfigError(f"{where('images')}: expected image names (a list, a comma list, "
                              f"default or all), got {im!r}")
        opts["images"] = im if not isinstance(im, list) else ",".join(im)
    if kind == "model" and opts.get("mode") == "per-layer" and \
            ("images" in opts or isinstance(opts.get("input"), tuple)):
        raise ConfigError(f"{where('input' if 'input' in opts else 'images')}: per-layer mode "
                          f"runs one input; several inputs run chained (mode chained)")
    for key in ("context", "blocks"):                   # LLM options (docs/llm.md)
        if key in values:
            n = values[key]
            if isinstance(n, str) and n.strip().isdigit():
                n = int(n)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"{where(key)}: expected an integer >= 1, got {n!r}")
            opts[key] = n
    for key, lo_open in (("weight_density", True), ("act_threshold", False)):
        if key in values:
            n = values[key]
            ok = not isinstance(n, bool) and isinstance(n, (int, float)) and math.isfinite(n)
            if not ok or (lo_open and not 0.0 < n <= 1.0) or (not lo_open and n < 0):
                want = "a fraction in (0, 1]" if lo_open else "a number >= 0"
                raise ConfigError(f"{where(key)}: expected {want}, got {n!r}")
            opts[key] = float(n)
    if "prune" in values:
        if values["prune"] not in PRUNE_MODES:
            raise ConfigError(f"{where('prune')}: expected one of {', '.join(PRUNE_MODES)}, "
                              f"got {values['prune']!r}")
        opts["prune"] = values["prune"]
    if kind == "squeezenet" and "images" in opts and ("positions" in opts or "layers" in opts):
        raise ConfigError(f"{where('images')}: a chained run computes every layer on every output "
                          f"position: drop positions / layers")
    return WorkloadSpec(kind, v, label=label, base_dir=None if base_dir is None else str(base_dir),
                        given=dict(values), **opts)
