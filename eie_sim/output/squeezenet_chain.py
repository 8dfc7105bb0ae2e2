"""Reports of images through a chained SqueezeNet run
(:class:`eie_sim.sim.image_runs.ChainedImagesRun`): per image the float and EIE
top-5 classes, their agreement, cycles, time and energy; per layer its fixed-point formats,
biases rounded to zero (one network-wide format vs per layer), errors against the float
pass and saturations; and its results bundle (``images.csv``, ``formats.csv``,
``layers.csv`` with an ``image`` column, ``summary.json``, ``report.md``)."""
from __future__ import annotations

from typing import Any

from eie_sim.output.report import csv_text, json_text
from eie_sim.sim.columns import units_map
from eie_sim.sim.image_runs import ChainedImagesRun
from eie_sim.sim.results import LAYER_COLUMNS

IMAGE_COLUMNS = ("image", "float_top5", "eie_top5", "top1_agree", "top5_overlap", "cycles",
                  "time_us", "total_energy_uj", "input_saturations", "output_saturations",
                  "worst_layer", "worst_relative_error", "wall_s")
FORMAT_COLUMNS = ("layer", "in_format", "out_format", "weight_format",
                   "calibration_in_max", "calibration_out_max", "bias_max", "weight_max",
                   "biases_nonzero", "biases_zero_single", "biases_zero_per_layer",
                   "max_relative_error", "max_abs_error", "input_saturations",
                   "output_saturations")

TITLE = "SqueezeNet (authors' compressed v1.0) chained on EIE: every convolution in fixed point"


def images_table(run: ChainedImagesRun) -> str:
    lines = ["| image | float top-5 | EIE top-5 | top-1 agrees | top-5 overlap | cycles | "
             "time (us) | energy (uJ) | saturations in/out | worst layer (rel. error) | wall (s) |",
             "|" + "---|" * 11]
    for im in run.images:
        r = im.row()
        lines.append(
            f"| {im.name} | {r['float_top5']} | {r['eie_top5']} | "
            f"{'yes' if im.top1_agree else '**no**'} | {im.top5_overlap}/5 | {r['cycles']:,} | "
            f"{r['time_us']:,.1f} | {r['total_energy_uj']:,.1f} | {r['input_saturations']:,}/"
            f"{r['output_saturations']:,} | `{r['worst_layer']}` ({r['worst_relative_error']:.3f}) | "
            f"{im.wall_s:.1f} |")
    return "\n".join(lines) + "\n"


def formats_table(run: ChainedImagesRun) -> str:
    lines = ["| layer | in | out (+ bias) | weights | calib. max in / out | biases -> 0 "
             "(one format / per layer) | max rel. error vs float | saturations in/out |",
             "|" + "---|" * 8]
    for r in run.layer_rows():
        lines.append(
            f"| `{r['layer']}` | {r['in_format']} | {r['out_format']} | {r['weight_format']} | "
            f"{r['calibration_in_max']:,.1f} / {r['calibration_out_max']:,.1f} | "
            f"{r['biases_zero_single']} / {r['biases_zero_per_layer']} of {r['biases_nonzero']} | "
            f"{r['max_relative_error']:.4f} | {r['input_saturations']}/{r['output_saturations']} |")
    return "\n".join(lines) + "\n"


def summary_lines(run: ChainedImagesRun) -> list[str]:
    s = run.summary()
    return [f"top-1 agreement: {s['top1_agree']} of {s['images']} images; mean top-5 overlap "
            f"{s['top5_overlap_mean']:.2f}/5",
            f"biases rounded to zero: {s['biases_zero_single']:,} of {s['biases_nonzero']:,} "
            f"with one network-wide format ({s['single_format']}), "
            f"{s['biases_zero_per_layer']:,} with the per-layer formats (a bias that rounds "
            f"to zero is under half a step of its layer's output format)",
            f"wall time {run.wall_s:.1f} s"]


def summary_dict(run: ChainedImagesRun, resolved: dict | None = None) -> dict[str, Any]:
    facts = run.summary()
    return {"title": TITLE, "data_dir": run.data_dir, **facts,
            "fixed_point": run.spec.as_dict(),
            "config": resolved if resolved is not None else {"arch": run.config.as_dict()},
            "effective_arch": run.config.as_dict(), "overrides": run.overrides,
            "images_detail": [im.row() for im in run.images], "layers": run.layer_rows(),
            "notes": run.notes,
            "units": units_map(facts, IMAGE_COLUMNS, FORMAT_COLUMNS, LAYER_COLUMNS)}


def markdown(run: ChainedImagesRun) -> str:
    md = ["# " + TITLE, ""]
    md += [f"- {line}" for line in summary_lines(run)]
    md += ["", "## Images", "", images_table(run), "## Layers: formats, biases, errors", "",
           formats_table(run), "Formats: `Qm.n` = sign + m integer + n fraction bits of the "
           f"{run.config.word_bits}-bit word.", ""]
    md += [f"- {n}" for n in run.notes]
    return "\n".join(md) + "\n"


def bundle_files(run: ChainedImagesRun, resolved: dict | None = None,
                 resolved_yaml: str | None = None) -> dict[str, str]:
    """``images.csv``, ``formats.csv``, ``layers.csv`` (every EIE layer of every image,
    the columns of every run plus ``image``), ``summary.json``, ``report.md``
    (+ ``config.yaml``)."""
    layer_rows = [{"image": im.name, **l.to_dict()} for im in run.images for l in im.run.layers]
    files = {"images.csv": csv_text([im.row() for im in run.images], IMAGE_COLUMNS),
             "formats.csv": csv_text(run.layer_rows(), FORMAT_COLUMNS),
             "layers.csv": csv_text(layer_rows, ("image",) + tuple(LAYER_COLUMNS)),
             "summary.json": json_text(summary_dict(run, resolved)), "report.md": markdown(run)}
    if resolved_yaml is not None:
        files["config.yaml"] = resolved_yaml
    return files
