"""Size accounting in the columns of Deep Compression's Tables 2-5.

Counting rules (also in ``docs/format.md``):

* **Paper-style rate** (reconstructed, reference sheet sec. 4; the paper only says the
  rate "includes the overhead of the codebook and sparse indexes"). Per layer, with
  ``entries = non-zeros + filler entries`` of the relative-index stream::

      bits P+Q   = entries x (bits + index_bits) + 2**bits x 32
      bits P+Q+H = code_bits + gap_bits + 2**bits x 32      (Huffman stream lengths)
      rate       = bits / (32 x dense weights)

  The "weight bits" / "index bits" columns are ``bits`` / ``index_bits`` for P+Q and the
  average Huffman code lengths (stream bits / entries) for P+Q+H. Biases, pointers,
  Huffman tables and headers are not counted here.
* **Our rate** counts everything the ``.dcmp`` file stores: a layer's whole section
  (framing, descriptor, codebook, Huffman length tables, both bitstreams, bias,
  metadata) over the float32 bytes of its dense weights and biases; the total is the
  whole file (header included) over all float32 weights and biases.
* The **Total** row sums weights, non-zeros, entries and bits; its bit-width columns are
  non-zero-weighted averages of the layers' columns (as the paper's totals are); its
  rates are total bits over total dense bits.
"""
from __future__ import annotations

import csv
import io
import os
import pathlib
from typing import Any, Mapping

from . import fileformat
from .fileio import atomic_write
from .model import QuantizedLayer, QuantizedModel

COLUMNS = [  # (row key, markdown header)
    ("layer", "Layer"),
    ("n_weights", "#Weights"),
    ("density", "Weights % (P)"),
    ("weight_bits_pq", "Weight bits P+Q"),
    ("weight_bits_pqh", "Weight bits P+Q+H"),
    ("index_bits_pq", "Index bits P+Q"),
    ("index_bits_pqh", "Index bits P+Q+H"),
    ("rate_pq", "Rate P+Q"),
    ("rate_pqh", "Rate P+Q+H"),
    ("rate_ours", "Our rate (all stored bytes)"),
]
_AVERAGED = ("weight_bits_pq", "weight_bits_pqh", "index_bits_pq", "index_bits_pqh")


def _row(layer: QuantizedLayer, enc: fileformat.EncodedLayer, stored_bytes: int) -> dict[str, Any]:
    n_w = int(layer.codes.size)
    nnz = enc.stream.nnz
    entries = enc.stream.n_entries
    codebook_bits = 2 ** layer.bits * 32
    bits_pq = entries * (layer.bits + layer.index_bits) + codebook_bits
    bits_pqh = enc.n_code_bits + enc.n_gap_bits + codebook_bits
    n_bias = 0 if layer.bias is None else int(layer.bias.size)
    dense_bytes = 4 * (n_w + n_bias)
    return {
        "layer": layer.name, "kind": layer.kind, "shape": "x".join(map(str, layer.shape)),
        "n_weights": n_w, "nnz": nnz, "density": nnz / max(1, n_w),
        "entries": entries, "fillers": enc.stream.n_fillers,
        "bits": layer.bits, "index_bits": layer.index_bits,
        "weight_bits_pq": float(layer.bits),
        "weight_bits_pqh": fileformat.bits_per_entry(enc.n_code_bits, entries),
        "index_bits_pq": float(layer.index_bits),
        "index_bits_pqh": fileformat.bits_per_entry(enc.n_gap_bits, entries),
        "bits_pq": bits_pq, "bits_pqh": bits_pqh,
        "rate_pq": bits_pq / (32 * max(1, n_w)), "rate_pqh": bits_pqh / (32 * max(1, n_w)),
        "n_bias": n_bias, "stored_bytes": int(stored_bytes), "dense_bytes": dense_bytes,
        "rate_ours": stored_bytes / max(1, dense_bytes),
    }


def layer_row(layer: QuantizedLayer) -> dict[str, Any]:
    """One layer's Table-2 row (plus our own stored-bytes rate of its file section).

    Keys: ``layer kind shape n_weights nnz density entries fillers bits index_bits
    weight_bits_pq weight_bits_pqh index_bits_pq index_bits_pqh bits_pq bits_pqh rate_pq
    rate_pqh n_bias stored_bytes dense_bytes rate_ours``; ``density`` and the rates are
    fractions (0.08 = 8 %).
    """
    enc = fileformat.encode_layer(layer)
    section = fileformat.section_bytes(enc)
    return _row(layer, enc, len(section))


def total_row(rows: list[dict[str, Any]], file_bytes: int | None = None) -> dict[str, Any]:
    """The Total row of ``rows`` (see the module docstring for the rule). ``file_bytes``
    is what our total rate counts (default: the layers' sections only)."""
    n_w = sum(r["n_weights"] for r in rows)
    nnz = sum(r["nnz"] for r in rows)
    tot: dict[str, Any] = {"layer": "Total", "kind": "", "shape": "", "n_weights": n_w, "nnz": nnz,
                           "density": nnz / max(1, n_w)}
    for key in ("entries", "fillers", "bits_pq", "bits_pqh", "n_bias", "dense_bytes", "stored_bytes"):
        tot[key] = sum(r[key] for r in rows)
    tot["bits"] = tot["index_bits"] = ""
    for key in _AVERAGED:
        tot[key] = sum(r[key] * r["nnz"] for r in rows) / nnz if nnz else 0.0
    tot["rate_pq"] = tot["bits_pq"] / (32 * max(1, n_w))
    tot["rate_pqh"] = tot["bits_pqh"] / (32 * max(1, n_w))
    if file_bytes is not None:
        tot["stored_bytes"] = int(file_bytes)
    tot["rate_ours"] = tot["stored_bytes"] / max(1, tot["dense_bytes"])
    return tot


def model_table(model: QuantizedModel, file_path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Rows of every layer plus the Total row.

    With ``file_path`` our rate uses that file's actual section sizes and total size
    (:func:`compressor.fileformat.inspect`; the file must hold the same layers); without
    it the same bytes are produced in memory.
    """
    if file_path is not None:
        info = fileformat.inspect(file_path)
    else:
        info = fileformat.inspect_bytes(fileformat.to_bytes(model), "<in memory>")
    if [l["name"] for l in info["layers"]] != [l.name for l in model.layers]:
        raise ValueError(f"{info['source']} holds layers {[l['name'] for l in info['layers']]}, "
                         f"the model has {[l.name for l in model.layers]}")
    rows = []
    for lay, sec in zip(model.layers, info["layers"]):
        enc = fileformat.encode_layer(lay)
        if (enc.n_code_bits, enc.n_gap_bits) != (sec["code_stream_bits"], sec["gap_stream_bits"]):
            raise ValueError(f"{info['source']}: layer {lay.name!r} differs from the model's")
        rows.append(_row(lay, enc, sec["section_bytes"]))
    rows.append(total_row(rows, info["file_bytes"]))
    return rows


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 10_000:
        return f"{n / 1e3:.0f}K"
    if n >= 1000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def _cell(key: str, value: Any, total: bool) -> str:
    if value is None or value == "":
        return ""
    if key == "layer":
        return str(value)
    if key == "n_weights":
        return _count(int(value))
    if key in ("density", "rate_pq", "rate_pqh", "rate_ours"):
        s = f"{100 * value:.2f} %"
        if total and value > 0:
            s += f" ({1 / value:.0f}x)"
        return s
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def format_markdown(rows: list[dict[str, Any]], paper: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A Markdown table of ``rows`` in the paper's column order.

    ``paper`` maps a layer name (``"Total"`` too) to paper values under the same keys and
    units as the rows (fractions for density and rates; a number or a string); a cell
    with a paper value reads ``ours (paper: theirs)``.
    """
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [head, sep]
    for r in rows:
        total = r.get("layer") == "Total"
        ref = (paper or {}).get(r.get("layer"), {})
        cells = []
        for key, _ in COLUMNS:
            c = _cell(key, r.get(key), total)
            if key != "layer" and key in ref and ref[key] is not None:
                theirs = ref[key]
                theirs = _cell(key, theirs, total) if not isinstance(theirs, str) else theirs
                c = f"{c} (paper: {theirs})"
            cells.append(c)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The rows (all keys, layers then Total) as CSV text."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def write_csv(rows: list[dict[str, Any]], path: str | os.PathLike) -> pathlib.Path:
    """Write the rows (all keys, layers then Total) as CSV, atomically
    (:func:`compressor.fileio.atomic_write`)."""
    return atomic_write(path, csv_text(rows))
