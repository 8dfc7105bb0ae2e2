"""The authors' compressed SqueezeNet chained on EIE, natural image by natural image.

Each image (:mod:`eie_sim.apps.images`: photographs shipped in scikit-image and
scikit-learn, Caffe preprocessing) goes through the whole network with every convolution
computed by the simulator in fixed point, all output positions, and fed - after
host-side pooling and concatenation - to the next layer (:class:`eie_sim.apps.chain.EieChain`);
the final classifier's top-5 classes are compared with the float network's on the same
image. No ImageNet class names ship here: classes are indices 0..999.

Fixed point (``fixed_point:`` block, :mod:`eie_sim.arch.fixed_point_spec`): ``per_layer``
(default) chooses each layer's input, output and weight formats from its ranges on a
calibration input (default: the images ``motorcycle`` and ``camera``, which are not among
the default images run; or the seeded synthetic image, or each image itself) with
``headroom_bits`` spare integer bits; ``single`` runs every layer in the one
network-wide format :func:`eie_sim.apps.squeezenet.choose_config` picks (for comparison).
"""
from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from compressor.graph.forward import SYNTHETIC_SEED, forward, layer_workloads, synthetic_input
from eie_sim.apps.chain import (
    ChainedRun,
    EieChain,
    LayerRange,
    apply_overrides,
    biases_rounded_to_zero,
    calibrate_formats,
    single_format,
)
from eie_sim.apps.images import IMAGES, image_input
from eie_sim.apps.squeezenet import DEFAULT_SQUEEZENET_DIR, choose_config, load_squeezenet
from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.arch.fixed_point import LayerFormat
from eie_sim.arch.fixed_point_spec import FixedPointSpec
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.sim.results import LayerResult


@dataclass
class ImageResult:
    """One image through the chained network."""

    name: str
    float_top5: list[int]
    eie_top5: list[int]
    run: ChainedRun
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
                "energy_uj": t["energy_uj"], "input_saturations": t["input_saturations"],
                "output_saturations": t["output_saturations"], "worst_layer": worst.name,
                "worst_relative_error": worst.relative, "wall_s": self.wall_s}


@dataclass
class SqueezeNetChainRun:
    """Images through the chained SqueezeNet, the formats used and the bias counts."""

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


def run_squeezenet_chain(images: list[str], data_dir: str | pathlib.Path | None = None,
                         cfg: ArchConfig | None = None, spec: FixedPointSpec | None = None, *,
                         explicit: set[str] | frozenset = frozenset(), engine: str = "fast",
                         verify: bool = False,
                         energy_table: energy_mod.EnergyTable | None = None,
                         check_fit: bool = True,
                         on_layer: Callable[[LayerResult], None] | None = None,
                         on_image: Callable[[ImageResult], None] | None = None,
                         on_start: Callable[[int], None] | None = None,
                         ) -> SqueezeNetChainRun:
    """Run ``images`` (names of :data:`eie_sim.apps.images.IMAGES`) through the chained
    SqueezeNet (module docstring). ``spec``: the ``fixed_point:`` block (default: per-layer
    rule, synthetic calibration). ``on_layer`` / ``on_image``: progress callbacks;
    ``on_start(n)``: called once the network is loaded, ``n`` its parameter layers (the
    ``on_layer`` calls of one image; 26 conv layers for SqueezeNet v1.0)."""
    t0 = time.perf_counter()
    spec = spec or FixedPointSpec()
    bad = [n for n in images if n not in IMAGES]
    if bad:
        raise WorkloadError(f"unknown image(s) {bad}; images: {', '.join(IMAGES)}")
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    net, model = load_squeezenet(d)
    (in_shape,) = net.inputs.values()
    syn = synthetic_input(tuple(in_shape), seed=SYNTHETIC_SEED)
    fwd_syn = forward(net, model, syn)
    wls = layer_workloads(net, model, syn, result=fwd_syn)
    if on_start:
        on_start(len(wls))
    # the network-wide choices of the per-layer-less run (weight_bits 8; one format)
    cfg, overrides = choose_config(cfg or PAPER_CONFIG, wls,
                                   {w.name: fwd_syn.layer_outputs[w.name] for w in wls}, explicit)
    single = single_format(net, cfg)
    cal_where = spec.where.get("calibration", "fixed_point.calibration")
    where = {k.split(".", 1)[1]: v for k, v in spec.where.items() if k.startswith("layers.")}
    cal_names = [] if spec.calibration in ("synthetic", "self") else spec.calibration.split(",")
    bad = [n for n in cal_names if n not in IMAGES]
    if bad:
        raise ConfigError(f"{cal_where}: {', '.join(map(repr, bad))}: not synthetic, self or "
                          f"an image ({', '.join(IMAGES)})")

    def formats_for(x_cal) -> tuple[dict[str, LayerFormat], list[LayerRange]]:
        return calibrate_formats(net, model, x_cal, cfg, spec.headroom_bits, spec.layers, where)

    if spec.rule == "single":
        formats = apply_overrides(single, spec.layers, cfg, where)
        _, ranges = formats_for(syn)
    elif spec.calibration == "self":
        formats, ranges = formats_for(syn)     # reported; each image then calibrates itself
    else:
        cal = [syn] if spec.calibration == "synthetic" else [image_input(n) for n in cal_names]
        formats, ranges = formats_for(cal)
    bias_zero = {"single": biases_rounded_to_zero(model, single),
                 "per_layer": biases_rounded_to_zero(model, formats)}
    source = {"kind": "squeezenet-chained", "file": str(d)}
    chain = None
    if spec.calibration != "self" or spec.rule == "single":
        chain = EieChain(net, model, cfg, formats, check_fit=check_fit, source=source)
    results = []
    for name in images:
        t1 = time.perf_counter()
        x = image_input(name, int(in_shape[-1]))
        fwd = forward(net, model, x)
        c = chain
        if c is None:                          # calibration: self
            c = EieChain(net, model, cfg, formats_for(x)[0], check_fit=check_fit, source=source)
        run = c.run(x, engine=engine, verify=verify, energy_table=energy_table,
                    float_result=fwd, progress=on_layer)
        eie5, float5 = run.top_k(5)
        res = ImageResult(name, float5, eie5, run, time.perf_counter() - t1)
        results.append(res)
        if on_image:
            on_image(res)
    cal_text = {"synthetic": f"the seeded synthetic image (compressor.graph.forward."
                             f"synthetic_input, seed {SYNTHETIC_SEED})",
                "self": "each image itself (its own float ranges: formats differ per image)"
                }.get(spec.calibration, "the image(s) " + ", ".join(cal_names)
                      + " (largest ranges over them)")
    notes = [
        f"Fixed point: rule {spec.rule}" + (
            f", calibrated on {cal_text} with {spec.headroom_bits} headroom bit(s)"
            if spec.rule == "per_layer" else
            f" (act_frac_bits {cfg.act_frac_bits}, weight_frac_bits {cfg.weight_frac_bits} "
            f"for every layer)") + (f"; overrides for {', '.join(spec.layers)}" if spec.layers else ""),
        "Every convolution runs on EIE over all its output positions; its ReLU is applied "
        "by EIE on write-back (fused); pooling, concatenation and dropout (identity) run on "
        "the host in float on the dequantized outputs; the next layer quantizes its input.",
        "Images: scikit-image / scikit-learn package images, shorter side resized to 256, "
        "centre crop 227x227, BGR, mean [104, 117, 123] subtracted (eie_sim/apps/images.py). "
        "Classes are ImageNet-1k indices (no class-name file ships here).",
        "Per-image cycles, time and energy: the 26 convolutions, all positions, I/O mode "
        "(loading patches into the source registers is not modelled); host-side layers take "
        "no EIE time.",
    ]
    return SqueezeNetChainRun(results, cfg, overrides, spec, formats, ranges,
                              next(iter(single.values())), bias_zero, str(d), notes,
                              time.perf_counter() - t0)
