"""Images through a chained network run: each image's :class:`~eie_sim.sim.results.NetRun`
(``mode="chained"``), its top-5 classes beside the float network's, and over all images
the formats, calibration ranges and biases rounded to zero (:mod:`eie_sim.apps.squeezenet_chain`
fills them; :mod:`eie_sim.output.squeezenet_chain` reports them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import LayerFormat
from eie_sim.arch.fixed_point_spec import FixedPointSpec
from eie_sim.sim.formats import LayerRange
from eie_sim.sim.results import NetRun


@dataclass
class ImageResult:
    """One image through the chained network."""

    name: str
    float_top5: list[int]
    eie_top5: list[int]
    run: NetRun                   #: the chained run of this image
    wall_s: float

    @property
    def top1_agree(self) -> bool:
        return self.float_top5[0] == self.eie_top5[0]

    @property
    def top5_overlap(self) -> int:
        return len(set(self.float_top5) & set(self.eie_top5))

    def row(self) -> dict[str, Any]:
        t = self.run.totals()
        worst = max(self.run.errors, key=lambda e: e.relative)
        return {"image": self.name, "float_top5": " ".join(map(str, self.float_top5)),
                "eie_top5": " ".join(map(str, self.eie_top5)), "top1_agree": self.top1_agree,
                "top5_overlap": self.top5_overlap, "cycles": t["cycles"], "time_us": t["time_us"],
                "total_energy_uj": t["total_energy_uj"], "input_saturations": t["input_saturations"],
                "output_saturations": t["output_saturations"], "worst_layer": worst.name,
                "worst_relative_error": worst.relative, "wall_s": self.wall_s}


@dataclass
class ChainedImagesRun:
    """Images through a chained network (SqueezeNet), the formats used and the bias counts."""

    images: list[ImageResult]
    config: ArchConfig
    overrides: list[dict]
    spec: FixedPointSpec
    formats: dict[str, LayerFormat]       #: the calibrated formats (per image with "self")
    ranges: list[LayerRange]              #: the calibration ranges
    single: LayerFormat                   #: the one network-wide format (for comparison)
    bias_zero: dict[str, dict[str, tuple[int, int]]]   #: "single"/"per_layer" -> layer -> (zero, non-zero)
    data_dir: str
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def layer_rows(self) -> list[dict[str, Any]]:
        """Per layer: formats, calibration ranges, biases rounded to zero (both rules),
        largest error against the float pass and saturations over the images."""
        rng = {r.name: r for r in self.ranges}
        w = self.config.word_bits
        rows = []
        for name, f in self.formats.items():
            per = [next(l for l in im.run.layers if l.name == name) for im in self.images]
            errs = [next(e for e in im.run.errors if e.name == name) for im in self.images]
            zs, zp = self.bias_zero["single"][name], self.bias_zero["per_layer"][name]
            if per and self.spec.calibration != "self":
                fmt = per[0].fixed_point_columns()
            else:
                fmt = {"in_format": f"Q{w - 1 - f.act_frac_bits}.{f.act_frac_bits}",
                       "out_format": f"Q{w - 1 - f.out_frac_bits}.{f.out_frac_bits}",
                       "weight_format": f"Q{w - 1 - f.weight_frac_bits}.{f.weight_frac_bits}"}
            rows.append({
                "layer": name, **fmt,
                "calibration_in_max": rng[name].in_max, "calibration_out_max": rng[name].out_max,
                "bias_max": rng[name].bias_max, "weight_max": rng[name].weight_max,
                "biases_nonzero": zp[1], "biases_zero_single": zs[0], "biases_zero_per_layer": zp[0],
                "max_relative_error": max((e.relative for e in errs), default=0.0),
                "max_abs_error": max((e.max_abs for e in errs), default=0.0),
                "input_saturations": sum(l.input_saturations for l in per),
                "output_saturations": sum(l.output_saturations for l in per)})
        return rows

    def summary(self) -> dict[str, Any]:
        n = len(self.images)
        return {"images": n, "top1_agree": sum(i.top1_agree for i in self.images),
                "top5_overlap_mean": (sum(i.top5_overlap for i in self.images) / n) if n else 0.0,
                "biases_nonzero": sum(v[1] for v in self.bias_zero["per_layer"].values()),
                "biases_zero_single": sum(v[0] for v in self.bias_zero["single"].values()),
                "biases_zero_per_layer": sum(v[0] for v in self.bias_zero["per_layer"].values()),
                "single_format": f"in/out act_frac_bits={self.single.act_frac_bits}, "
                                 f"weight_frac_bits={self.single.weight_frac_bits}",
                "wall_s": self.wall_s}
