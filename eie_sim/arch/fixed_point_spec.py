"""The ``fixed_point:`` block of a configuration: how each layer's fixed-point format is
chosen (docs/timing.md "Per-layer fixed point", docs/config.md "fixed_point:").

::

    fixed_point:
      rule: per_layer          # per_layer (default): each layer's formats from its ranges
                               # single: act_frac_bits / weight_frac_bits for every layer
      headroom_bits: 1         # spare integer bits above the calibration ranges
      calibration: motorcycle,camera   # image names (comma list; the largest ranges over
                               # them), synthetic (the seeded synthetic image), or self
                               # (each image calibrates its own formats)
      layers:                  # per-layer overrides of the rule's choice (any subset)
        conv1: {act_frac_bits: 7, out_frac_bits: 4, weight_frac_bits: 15}

:func:`check_fixed_point` validates the block (every error ``file:line: key.path: ...``)
and returns a :class:`FixedPointSpec`; layer and image names are checked against the
network when it runs (with the location kept in :attr:`FixedPointSpec.where`). Nothing
here builds a model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from eie_sim.arch.config import ArchConfig, ConfigError
from eie_sim.arch.fixed_point import DEFAULT_HEADROOM_BITS, LayerFormat

RULES = ("per_layer", "single")
KEYS = ("rule", "headroom_bits", "calibration", "layers")
LAYER_KEYS = ("act_frac_bits", "out_frac_bits", "weight_frac_bits")
#: calibration inputs that are not image names
CALIBRATIONS = ("synthetic", "self")
#: the default calibration: two images shipped with scikit-image that are not among the
#: images a chained SqueezeNet run uses by default (eie_sim.apps.images.DEFAULT_IMAGES)
DEFAULT_CALIBRATION = "motorcycle,camera"
Where = Callable[..., str]


@dataclass(frozen=True)
class FixedPointSpec:
    """A checked ``fixed_point:`` block."""

    rule: str = "per_layer"
    headroom_bits: int = DEFAULT_HEADROOM_BITS
    calibration: str = DEFAULT_CALIBRATION
    layers: dict[str, dict[str, int]] = field(default_factory=dict)
    #: ``layers.NAME`` / ``calibration`` -> ``file:line: key.path`` (for later errors)
    where: dict[str, str] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "headroom_bits": self.headroom_bits,
                "calibration": self.calibration,
                "layers": {k: dict(v) for k, v in self.layers.items()}}


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_fixed_point(values: Any, where: Where, cfg: ArchConfig) -> FixedPointSpec | None:
    """The ``fixed_point:`` block (None when absent). ``where(*keys)`` locates a key path
    under ``fixed_point``; ``cfg`` is the file's architecture (word size, defaults)."""
    if values is None:
        return None
    if not isinstance(values, dict):
        raise ConfigError(f"{where()}: expected a mapping with keys {', '.join(KEYS)}")
    for k in values:
        if k not in KEYS:
            raise ConfigError(f"{where(k)}: unknown key; known keys: {', '.join(KEYS)}")
    rule = values.get("rule", "per_layer")
    if rule not in RULES:
        raise ConfigError(f"{where('rule')}: expected one of {', '.join(RULES)}, got {rule!r}")
    head = values.get("headroom_bits", DEFAULT_HEADROOM_BITS)
    if isinstance(head, float) and head.is_integer():
        head = int(head)
    if not _int(head) or not 0 <= head < cfg.word_bits:
        raise ConfigError(f"{where('headroom_bits')}: expected an integer in "
                          f"0..{cfg.word_bits - 1}, got {head!r}")
    cal = values.get("calibration", DEFAULT_CALIBRATION)
    if isinstance(cal, list) and cal and all(isinstance(c, str) for c in cal):
        cal = ",".join(cal)
    if not isinstance(cal, str) or not cal.strip():
        raise ConfigError(f"{where('calibration')}: expected synthetic, self or image "
                          f"names, got {cal!r}")
    cal = ",".join(c.strip() for c in cal.split(",") if c.strip())
    layers = values.get("layers")
    layers = {} if layers is None else layers
    if not isinstance(layers, dict):
        raise ConfigError(f"{where('layers')}: expected a mapping of layer names to formats")
    checked: dict[str, dict[str, int]] = {}
    locs = {"calibration": where("calibration")}
    for name, fmt in layers.items():
        w = (lambda *k, _n=name: where("layers", _n, *k))
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{w()}: layer names must be text")
        if not isinstance(fmt, dict) or not fmt:
            raise ConfigError(f"{w()}: expected a mapping with some of {', '.join(LAYER_KEYS)}")
        one = {}
        for k, v in fmt.items():
            if k not in LAYER_KEYS:
                raise ConfigError(f"{w(k)}: unknown key; known keys: {', '.join(LAYER_KEYS)}")
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not _int(v) or not 0 <= v < cfg.word_bits:
                raise ConfigError(f"{w(k)}: expected an integer in 0..{cfg.word_bits - 1} "
                                  f"(below word_bits {cfg.word_bits}), got {v!r}")
            one[k] = v
        if set(one) == set(LAYER_KEYS):      # complete: the product shift can be checked now
            try:
                LayerFormat(**one).config(cfg)
            except ConfigError as exc:
                raise ConfigError(f"{w()}: {exc}") from None
        checked[name] = one
        locs["layers." + name] = w()
    return FixedPointSpec(rule, head, cal, checked, locs)


__all__ = ["FixedPointSpec", "check_fixed_point", "RULES", "KEYS", "LAYER_KEYS",
           "CALIBRATIONS", "DEFAULT_CALIBRATION", "DEFAULT_HEADROOM_BITS"]
