"""Per-layer compression report (Markdown + CSV) with the paper's values beside ours.

The per-layer columns are :mod:`compressor.accounting`'s (Deep Compression Table 2/3
layout: #weights, weights % kept, weight/index bits before and after Huffman coding,
paper-style rates, and our rate counting every stored byte). A cell with a paper value
reads ``ours (paper: theirs)``; paper values come from :data:`compressor.training.networks.PAPER`
(Tables 1-3 of the paper) and are labelled as such. Below the table: the actual file
size, the dense float32 size, their ratio (the paper's Table 1 columns beside them) and
the test accuracies of the dense, pruned and quantized networks; for a DSD run
(``meta["dsd"]``) the dense-sparse-dense schedule and its accuracies; and the BLAS of the
machine that wrote the report (:func:`compressor.training.determinism.blas_info`; kept
out of the file itself, whose bytes must not depend on the machine).
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from compressor import accounting
from compressor.fileio import atomic_write
from compressor.model import QuantizedModel
from compressor.training.determinism import blas_info, format_blas
from compressor.training.networks import PAPER


def paper_columns(model: str | None) -> dict[str, dict[str, Any]] | None:
    """The paper's Table 2/3 values under accounting's row keys (fractions for % columns)."""
    if model not in PAPER:
        return None
    ref = PAPER[model]
    out: dict[str, dict[str, Any]] = {}
    for name, v in ref["layers"].items():
        out[name] = {"n_weights": v["weights"], "density": v["density"],
                     "weight_bits_pq": float(v["bits"]), "weight_bits_pqh": v["wbits_h"],
                     "index_bits_pq": float(v["index_bits"]), "index_bits_pqh": v["ibits_h"],
                     "rate_pq": v["rate_pq"] / 100, "rate_pqh": v["rate_pqh"] / 100}
    t = ref["total"]
    out["Total"] = {"n_weights": t["weights"], "density": t["density"],
                    "rate_pq": t["rate_pq"] / 100, "rate_pqh": t["rate_pqh"] / 100}
    return out


def table_rows(model: QuantizedModel, file_path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """accounting's rows (layers + Total) for ``model`` as stored in ``file_path``."""
    return accounting.model_table(model, file_path)


def summary(model: QuantizedModel, rows: list[dict[str, Any]], file_bytes: int | None) -> dict[str, Any]:
    """Table 1-style numbers: sizes, ratio, accuracies, with the paper's where known."""
    meta = model.meta
    name = meta.get("model")
    dense = int(meta.get("dense_bytes") or rows[-1]["dense_bytes"])
    stored = int(file_bytes if file_bytes is not None else rows[-1]["stored_bytes"])
    out: dict[str, Any] = {"model": name, "dense_bytes": dense, "file_bytes": stored,
                           "ratio": dense / stored if stored else None,
                           "ratio_pq_paper_style": 1 / rows[-1]["rate_pq"] if rows[-1]["rate_pq"] else None,
                           "ratio_pqh_paper_style": 1 / rows[-1]["rate_pqh"] if rows[-1]["rate_pqh"] else None,
                           "accuracy": dict(meta.get("accuracy", {})), "seed": meta.get("seed")}
    if name in PAPER:
        t = PAPER[name]["total"]
        out["paper"] = {"dense_kb": t["size_kb"][0], "compressed_kb": t["size_kb"][1],
                        "ratio": t["ratio"], "top1_error_dense": t["top1_err"][0],
                        "top1_error_compressed": t["top1_err"][1]}
    return out


def format_summary(s: dict[str, Any]) -> str:
    lines = ["| | ours | paper |", "|---|---|---|"]
    p = s.get("paper", {})

    def pv(key, fmt="{}"):
        return fmt.format(p[key]) if key in p else "n/a"

    lines.append(f"| dense float32 weights + biases | {s['dense_bytes'] / 1000:.1f} KB | {pv('dense_kb', '{} KB')} |")
    lines.append(f"| compressed file (all bytes) | {s['file_bytes'] / 1000:.1f} KB | {pv('compressed_kb', '{} KB')} |")
    ratio = f"{s['ratio']:.1f}x" if s.get("ratio") else "n/a"
    lines.append(f"| compression ratio | {ratio} | {pv('ratio', '{:.0f}x')} |")
    if s.get("ratio_pqh_paper_style"):
        theirs = "n/a"
        if p:
            theirs = f"{100 / PAPER[s['model']]['total']['rate_pq']:.0f}x / {p['ratio']:.0f}x"
        lines.append(f"| paper-style ratio P+Q / P+Q+H (weights, indexes, codebooks only) | "
                     f"{s['ratio_pq_paper_style']:.1f}x / {s['ratio_pqh_paper_style']:.1f}x | {theirs} |")
    acc = s.get("accuracy", {})
    if "dense" in acc:
        lines.append(f"| top-1 error, dense | {100 - acc['dense']:.2f} % | {pv('top1_error_dense', '{:.2f} %')} |")
    if "pruned" in acc:
        lines.append(f"| top-1 error, pruned + retrained | {100 - acc['pruned']:.2f} % | n/a |")
    if "quantized" in acc:
        lines.append(f"| top-1 error, compressed (file decoded) | {100 - acc['quantized']:.2f} % | "
                     f"{pv('top1_error_compressed', '{:.2f} %')} |")
    return "\n".join(lines) + "\n"


def format_dsd(d: dict[str, Any]) -> str:
    """The DSD section: schedule and the accuracy after each step (``meta["dsd"]``)."""
    s, a, lr = d["schedule"], d["accuracy"], d.get("lrs", {})
    lines = ["| step | what | test accuracy |", "|---|---|---|",
             f"| D | dense baseline | {a['dense']:.2f} % |",
             f"| S | {s['sparsity']:.0%} of each layer pruned (magnitude), before retraining "
             f"| {a['pruned']:.2f} % |",
             f"| S | sparse retraining, {s['sparse_epochs']} epochs at lr {lr.get('sparse', 0):.4g} "
             f"(decay {s['lr_decay']}/epoch) | {a['sparse']:.2f} % |",
             f"| D | {d.get('restored', 0)} connections restored at 0, dense retraining, "
             f"{s['dense_epochs']} epochs at lr {lr.get('redense', 0):.4g} | {a['dsd']:.2f} % |"]
    return "\n".join(lines) + (f"\n\nDSD changes the accuracy by {a['dsd'] - a['dense']:+.2f} "
                               "points over the dense baseline; the compressed file is made from "
                               "the DSD network.\n")


def format_agreement(d: dict[str, Any]) -> str:
    """The agreement section (``meta["agreement"]``, :mod:`compressor.accuracy` through
    ``eie-compress import``): the calibration inputs, the measured agreement, any budget
    search and every warning."""
    lines = [f"Calibration: {d.get('calibration', '?')}.", ""]
    m = d.get("measured", {})
    lines += ["| inputs | classifier | top-1 agreement | top-5 agreement | mean rel. error | "
              "max rel. error |", "|---|---|---|---|---|---|"]
    pct = (lambda v: "n/a" if v is None else f"{v:.1%}")
    lines.append(f"| {m.get('inputs')} | {'yes' if m.get('classifier') else 'no'} | "
                 f"{pct(m.get('top1_agreement'))} | {pct(m.get('top5_agreement'))} | "
                 f"{m.get('mean_relative_error', 0):.4f} | {m.get('max_relative_error', 0):.4f} |")
    s = d.get("search")
    if isinstance(s, dict):
        tgt = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in s.get("target", {}).items())
        lines += ["", f"Densities and bits chosen by sensitivity for the target {tgt} "
                  f"(seed {s.get('seed')}; estimated-error budget {s.get('budget', 0):.4g}; "
                  f"{'met' if s.get('met') else 'NOT met'} on the calibration inputs):", "",
                  "| layer | kept fraction of non-zeros | bits |", "|---|---|---|"]
        for n, v in s.get("settings", {}).items():
            lines.append(f"| {n} | {v['fraction_of_nonzeros']:g} | {v['bits']} |")
    for w in d.get("warnings", []):
        lines += ["", f"**WARNING: {w}**"]
    return "\n".join(lines) + "\n"


def markdown(model: QuantizedModel, rows: list[dict[str, Any]], file_bytes: int | None = None,
             title: str | None = None, environment: dict[str, Any] | None = None) -> str:
    """The whole report: title, per-layer table, size/accuracy summary, run metadata."""
    name = model.meta.get("model")
    paper = paper_columns(name)
    head = title or f"Compression report: {name or 'user weights'}"
    parts = [f"# {head}\n"]
    if paper:
        parts.append(f"Per layer, in the columns of Deep Compression {PAPER[name]['table']}; "
                     "`(paper: x)` is the paper's value. The paper's P+Q/P+Q+H rates count only "
                     "weights, indexes and codebooks; *our rate* counts every byte of the file.\n")
    parts.append(accounting.format_markdown(rows, paper))
    parts.append("\n## Size and accuracy\n")
    parts.append(format_summary(summary(model, rows, file_bytes)))
    if name in PAPER:
        parts.append("\nPaper values: Deep Compression (ICLR 2016) Table 1 and "
                     f"{PAPER[name]['table']} (full MNIST, 60k/10k). Ours: the data named below.\n")
    if isinstance(model.meta.get("dsd"), dict):
        parts.append("\n## Dense-sparse-dense training (DSD, ICLR 2017)\n")
        parts.append(format_dsd(model.meta["dsd"]))
    if isinstance(model.meta.get("agreement"), dict):
        parts.append("\n## Agreement with the float model (no retraining)\n")
        parts.append(format_agreement(model.meta["agreement"]))
    if environment is not None:
        parts.append("\n## Machine\n")
        parts.append(f"BLAS of the machine that wrote this report: {format_blas(environment)}.\n")
    run = {k: v for k, v in model.meta.items() if k not in ("accuracy", "agreement")}
    parts.append("\n## Run\n\n```json\n" + json.dumps(run, indent=1, sort_keys=True, default=str) + "\n```\n")
    return "\n".join(parts)


def write_report(model: QuantizedModel, outdir: str | os.PathLike, stem: str,
                 file_path: str | os.PathLike | None = None) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``<stem>.md`` and ``<stem>.csv`` into ``outdir`` (each atomically)."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = table_rows(model, file_path)
    file_bytes = pathlib.Path(file_path).stat().st_size if file_path is not None else None
    md = outdir / f"{stem}.md"
    csv_path = outdir / f"{stem}.csv"
    text = markdown(model, rows, file_bytes, environment=blas_info())
    accounting.write_csv(rows, csv_path)  # atomic (compressor.fileio.atomic_write)
    atomic_write(md, text)
    return md, csv_path
