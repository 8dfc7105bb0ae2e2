"""The authors' compressed SqueezeNet chained on EIE, natural image by natural image.

Each image (:mod:`eie_sim.apps.images`: photographs shipped in scikit-image and
scikit-learn, Caffe preprocessing) goes through the whole network with every convolution
computed by the simulator in fixed point, all output positions, and fed - after
host-side pooling and concatenation - to the next layer (:class:`eie_sim.sim.chain.EieChain`);
the final classifier's top-5 classes are compared with the float network's on the same
image. No ImageNet class names ship here: classes are indices 0..999.

Fixed point (``fixed_point:`` block, :mod:`eie_sim.arch.fixed_point_spec`): ``per_layer``
(default) chooses each layer's input, output and weight formats from its ranges on a
calibration input (default: the images ``motorcycle`` and ``camera``, which are not among
the default images run; or the seeded synthetic image, or each image itself) with
``headroom_bits`` spare integer bits; ``single`` runs every layer in the one
network-wide format :func:`eie_sim.sim.formats.network_format` picks (for comparison).
"""
from __future__ import annotations

import pathlib
import time
from typing import Callable

from compressor.graph.forward import SYNTHETIC_SEED, forward, synthetic_input
from eie_sim.apps.images import IMAGES, image_input
from eie_sim.apps.squeezenet import DEFAULT_SQUEEZENET_DIR, load_squeezenet
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.arch.fixed_point import LayerFormat
from eie_sim.arch.fixed_point_spec import FixedPointSpec
from eie_sim.errors import ConfigError, WorkloadError
from eie_sim.sim.chain import EieChain
from eie_sim.sim.formats import (
    LayerRange,
    apply_overrides,
    biases_rounded_to_zero,
    calibrate_formats,
    layer_ranges,
    network_format,
    single_format,
)
from eie_sim.sim.image_runs import ChainedImagesRun, ImageResult
from eie_sim.sim.options import SimOptions
from eie_sim.sim.results import LayerResult


def run_squeezenet_chain(images: list[str], data_dir: str | pathlib.Path | None = None,
                         cfg: ArchConfig | None = None, spec: FixedPointSpec | None = None, *,
                         explicit: set[str] | frozenset = frozenset(),
                         options: SimOptions | None = None,
                         on_layer: Callable[[LayerResult], None] | None = None,
                         on_image: Callable[[ImageResult], None] | None = None,
                         on_start: Callable[[int], None] | None = None,
                         ) -> ChainedImagesRun:
    """Run ``images`` (names of :data:`eie_sim.apps.images.IMAGES`) through the chained
    SqueezeNet (module docstring). ``spec``: the ``fixed_point:`` block (default: per-layer
    rule, synthetic calibration). ``options``: engine, checks, energy table
    (:class:`~eie_sim.sim.options.SimOptions`). ``on_layer`` / ``on_image``: progress callbacks;
    ``on_start(n)``: called once the network is loaded, ``n`` its parameter layers (the
    ``on_layer`` calls of one image; 26 conv layers for SqueezeNet v1.0)."""
    t0 = time.perf_counter()
    opt = options or SimOptions()
    spec = spec or FixedPointSpec()
    bad = [n for n in images if n not in IMAGES]
    if bad:
        raise WorkloadError(f"unknown image(s) {bad}; images: {', '.join(IMAGES)}")
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    net, model = load_squeezenet(d)
    (in_shape,) = net.inputs.values()
    syn = synthetic_input(tuple(in_shape), seed=SYNTHETIC_SEED)
    fwd_syn = forward(net, model, syn)
    if on_start:
        on_start(len(net.weight_layers))
    # the network-wide choices of the per-layer-less run (weight_bits 8; one format)
    bits = max(int(model.layer(lay.name).bits) for lay in net.weight_layers)
    syn_ranges = layer_ranges(net, model, [syn], [fwd_syn])
    cfg, overrides = network_format(cfg or PAPER_CONFIG, syn_ranges, bits, frozenset(explicit))
    single = single_format(net, cfg)
    cal_where = spec.where.get("calibration", "fixed_point.calibration")
    where = {k.split(".", 1)[1]: v for k, v in spec.where.items() if k.startswith("layers.")}
    cal_names = [] if spec.calibration in ("synthetic", "self") else spec.calibration.split(",")
    bad = [n for n in cal_names if n not in IMAGES]
    if bad:
        raise ConfigError(f"{cal_where}: {', '.join(map(repr, bad))}: not synthetic, self or "
                          f"an image ({', '.join(IMAGES)})")

    def formats_for(x_cal, fwds=None) -> tuple[dict[str, LayerFormat], list[LayerRange]]:
        return calibrate_formats(net, model, x_cal, cfg, spec.headroom_bits, spec.layers, where,
                                 fwds)

    if spec.rule == "single":
        formats = apply_overrides(single, spec.layers, cfg, where)
        ranges = syn_ranges
    elif spec.calibration == "self":
        formats, ranges = formats_for(syn, [fwd_syn])   # reported; each image calibrates itself
    else:
        if spec.calibration == "synthetic":
            formats, ranges = formats_for([syn], [fwd_syn])
        else:
            formats, ranges = formats_for([image_input(n) for n in cal_names])
    bias_zero = {"single": biases_rounded_to_zero(model, single),
                 "per_layer": biases_rounded_to_zero(model, formats)}
    source = {"kind": "squeezenet-chained", "file": str(d)}
    chain = None
    if spec.calibration != "self" or spec.rule == "single":
        chain = EieChain(net, model, cfg, formats, check_fit=opt.check_fit, source=source)
    results = []
    for name in images:
        t1 = time.perf_counter()
        x = image_input(name, int(in_shape[-1]))
        fwd = forward(net, model, x)
        c = chain
        if c is None:                          # calibration: self
            c = EieChain(net, model, cfg, formats_for(x, [fwd])[0], check_fit=opt.check_fit,
                         source=source)
        run = c.run(x, opt, float_result=fwd, progress=on_layer)
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
    return ChainedImagesRun(results, cfg, overrides, spec, formats, ranges,
                              next(iter(single.values())), bias_zero, str(d), notes,
                              time.perf_counter() - t0)
