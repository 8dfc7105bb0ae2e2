"""The authors' compressed SqueezeNet as a real workload: decode, re-encode, tabulate.

* :func:`compressor.caffe.authors_format.read_authors_records` parses the prototxt's
  network and the authors' ``.net`` file into the stored per-layer streams, and
  :func:`~compressor.caffe.authors_format.model_from_records` into a
  :class:`~compressor.model.QuantizedModel`.
* :func:`squeezenet_table` builds a Deep Compression Table 4-style per-layer table: the
  number of weights, density (non-zeros / weights), stored entries and fillers, fixed
  weight / index widths, the average bits per entry after Huffman coding the *actual*
  weight-code stream and the *actual* index stream (optimal code lengths from
  :func:`compressor.huffman.code_lengths` on the streams' symbol counts), and the
  compression rates; then the totals and the sizes (dense float32, the authors' file,
  ours). :func:`table_markdown` / :func:`table_csv` render it.
* :func:`convert` does the whole job (``eie-compress squeezenet`` is its command line):
  decode, save our compressed file, check that it decodes back to exactly the authors'
  weights, write the dense ``.npz`` and the report. All outputs are written to temporary
  names first and renamed only when everything succeeded, so a failure leaves no partial
  output.

Rate rule (reference sheet, sec. 4; the paper's own accounting):
``bits = entries x (weight bits + index bits) + 2**weight_bits x 32`` (codebook), with
Huffman: the average code lengths in place of the fixed widths; ``rate = bits / (32 x
weights)``. Biases, the entry-count header and Huffman tables are not in this rate;
the file sizes in the totals count every byte.
"""
from __future__ import annotations

import csv
import io
import math
import os
import pathlib
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from .. import fileformat
from ..errors import AuthorsFormatError, ForwardError, RoundTripError
from ..fileio import publish, read_regular_file, temp_beside
from ..graph.forward import SYNTHETIC_SEED, forward, synthetic_input
from ..huffman import code_lengths
from ..model import QuantizedModel, to_dense
from .authors_format import (
    INDEX_BITS,
    MAX_NET_BYTES,
    AuthorsLayerRecord,
    model_from_records,
    read_authors_records,
)
from .prototxt import Net, load_net

__all__ = ["TableRow", "SqueezeNetTable", "huffman_average_bits", "layer_row",
           "squeezenet_table", "table_markdown", "table_csv", "Conversion", "convert"]

def huffman_average_bits(symbols: np.ndarray, n_symbols: int) -> float:
    """Average bits per symbol of an optimal prefix code for this very stream."""
    s = np.asarray(symbols).ravel()
    if s.size == 0:
        return 0.0
    freqs = np.bincount(s.astype(np.int64), minlength=n_symbols)
    lens = code_lengths(freqs)
    return float((freqs * lens.astype(np.int64)).sum()) / s.size


@dataclass
class TableRow:
    """One layer of the table (see module docstring for the rate rule).

    ``bits_pq`` / ``bits_pqh`` are the layer's paper-rule bit counts; ``authors_bytes``
    the bytes the layer occupies in the authors' file (codebook, biases, codes, index;
    header word not included); ``ours_bytes`` its whole section in our file, when known.
    """

    layer: str
    weights: int
    nonzeros: int
    entries: int
    fillers: int
    weight_bits: float
    index_bits: float
    huffman_weight_bits: float
    huffman_index_bits: float
    codebook_bits: int
    bits_pq: float
    bits_pqh: float
    authors_bytes: int
    ours_bytes: int | None = None

    @property
    def density(self) -> float:
        return self.nonzeros / self.weights

    @property
    def rate_pq(self) -> float:
        return self.bits_pq / (32 * self.weights)

    @property
    def rate_pqh(self) -> float:
        return self.bits_pqh / (32 * self.weights)


def layer_row(rec: AuthorsLayerRecord, ours_bytes: int | None = None) -> TableRow:
    """Table row of one stored layer."""
    hw = huffman_average_bits(rec.codes, 1 << rec.bits)
    hi = huffman_average_bits(rec.index, 1 << INDEX_BITS)
    cb = 32 * rec.codebook.size
    n = rec.entries
    return TableRow(
        layer=rec.name, weights=int(math.prod(rec.weight_shape)),
        nonzeros=int(np.count_nonzero(rec.codes)), entries=n,
        fillers=rec.zero_code_entries, weight_bits=rec.bits, index_bits=INDEX_BITS,
        huffman_weight_bits=hw, huffman_index_bits=hi, codebook_bits=cb,
        bits_pq=n * (rec.bits + INDEX_BITS) + cb, bits_pqh=n * (hw + hi) + cb,
        authors_bytes=rec.nbytes, ours_bytes=ours_bytes)


def _total_row(rows: list[TableRow]) -> TableRow:
    """Sums of counts and bits; bit widths are non-zero-weighted averages (as the paper's
    totals, and :mod:`compressor.accounting`); rates are total bits over total dense bits."""
    nz = sum(r.nonzeros for r in rows)

    def avg(attr: str) -> float:
        return sum(getattr(r, attr) * r.nonzeros for r in rows) / nz if nz else 0.0

    ours = None if any(r.ours_bytes is None for r in rows) else sum(r.ours_bytes for r in rows)
    return TableRow("Total", sum(r.weights for r in rows), nz, sum(r.entries for r in rows),
                    sum(r.fillers for r in rows), avg("weight_bits"), avg("index_bits"),
                    avg("huffman_weight_bits"), avg("huffman_index_bits"),
                    sum(r.codebook_bits for r in rows), sum(r.bits_pq for r in rows),
                    sum(r.bits_pqh for r in rows), sum(r.authors_bytes for r in rows), ours)


@dataclass
class SqueezeNetTable:
    """Per-layer rows, the total row and the file sizes (bytes)."""

    rows: list[TableRow]
    total: TableRow
    biases: int
    dense_bytes: int                 # float32 weights + biases
    authors_bytes: int               # the authors' .net file
    ours_bytes: int | None = None    # our compressed file (compressor.fileformat)


def squeezenet_table(records: list[AuthorsLayerRecord], authors_bytes: int,
                     ours: dict | None = None) -> SqueezeNetTable:
    """Build the Table 4-style table from the stored streams of the authors' file.

    ``ours``: optional :func:`compressor.fileformat.inspect` result of our file holding the
    same layers; adds each layer's section size and the whole file's size.
    """
    ours_layers: list[int | None] = [None] * len(records)
    ours_total = None
    if ours is not None:
        names = [l["name"] for l in ours["layers"]]
        if names != [r.name for r in records]:
            raise ValueError(f"our file holds layers {names}, the authors' file {[r.name for r in records]}")
        ours_layers = [int(l["section_bytes"]) for l in ours["layers"]]
        ours_total = int(ours["file_bytes"])
    rows = [layer_row(r, o) for r, o in zip(records, ours_layers)]
    total = _total_row(rows)
    biases = sum(int(r.bias.size) for r in records)
    return SqueezeNetTable(rows, total, biases, 4 * (total.weights + biases), authors_bytes, ours_total)


def _fmt_k(n: int) -> str:
    return f"{n / 1000:.1f}K" if n >= 1000 else str(n)


def table_markdown(t: SqueezeNetTable) -> str:
    """Markdown rendering: per-layer table, totals, sizes."""
    ours = t.ours_bytes is not None
    head = ("| Layer | #Weights | Density (P) | Entries | Fillers | Weight bits P+Q | P+Q+H "
            "| Index bits P+Q | P+Q+H | Rate P+Q | Rate P+Q+H | Authors' bytes |")
    ncol = 12
    if ours:
        head += " Our bytes |"
        ncol += 1
    lines = [head, "|" + "---|" * ncol]
    for r in t.rows + [t.total]:
        name = f"**{r.layer}**" if r is t.total else f"`{r.layer}`"
        line = (f"| {name} | {_fmt_k(r.weights)} | {100 * r.density:.1f} % | {r.entries:,} | {r.fillers:,} "
                f"| {r.weight_bits:g} | {r.huffman_weight_bits:.2f} | {r.index_bits:g} | "
                f"{r.huffman_index_bits:.2f} | {100 * r.rate_pq:.2f} % | {100 * r.rate_pqh:.2f} % "
                f"| {r.authors_bytes:,} |")
        if ours:
            line += f" {r.ours_bytes:,} |"
        lines.append(line)
    tt = t.total
    lines += [
        "",
        f"Total: {tt.weights:,} weights, {tt.nonzeros:,} non-zeros ({100 * tt.density:.1f} %, "
        f"{tt.weights / tt.nonzeros:.2f}x fewer), {tt.entries:,} entries of which {tt.fillers:,} "
        f"fillers, {t.biases:,} biases. Paper-style rate P+Q {100 * tt.rate_pq:.2f} % "
        f"({1 / tt.rate_pq:.1f}x), P+Q+H {100 * tt.rate_pqh:.2f} % ({1 / tt.rate_pqh:.1f}x).",
        "",
        "| Size | bytes | vs dense float32 |",
        "|---|---|---|",
        f"| dense float32 (weights + biases) | {t.dense_bytes:,} | 1.00x |",
        f"| authors' `.net` file | {t.authors_bytes:,} | {t.dense_bytes / t.authors_bytes:.2f}x |",
        f"| P+Q streams + codebooks (paper rule, no biases) | {tt.bits_pq / 8:,.0f} | "
        f"{t.dense_bytes / (tt.bits_pq / 8):.2f}x |",
        f"| P+Q+H streams + codebooks (paper rule, no biases, no code tables) | {tt.bits_pqh / 8:,.0f} | "
        f"{t.dense_bytes / (tt.bits_pqh / 8):.2f}x |",
    ]
    if ours:
        lines.append(f"| our file (`compressor.fileformat`) | {t.ours_bytes:,} | "
                     f"{t.dense_bytes / t.ours_bytes:.2f}x |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["layer", "weights", "nonzeros", "density", "entries", "fillers", "weight_bits",
              "huffman_weight_bits", "index_bits", "huffman_index_bits", "codebook_bits",
              "bits_pq", "bits_pqh", "rate_pq", "rate_pqh", "authors_bytes", "ours_bytes"]


def table_csv(t: SqueezeNetTable) -> str:
    """CSV rendering: one line per layer plus the total (rates as fractions)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in t.rows + [t.total]:
        w.writerow([r.layer, r.weights, r.nonzeros, f"{r.density:.6f}", r.entries, r.fillers,
                    f"{r.weight_bits:g}", f"{r.huffman_weight_bits:.4f}", f"{r.index_bits:g}",
                    f"{r.huffman_index_bits:.4f}", r.codebook_bits, f"{r.bits_pq:.0f}",
                    f"{r.bits_pqh:.0f}", f"{r.rate_pq:.6f}", f"{r.rate_pqh:.6f}", r.authors_bytes,
                    "" if r.ours_bytes is None else r.ours_bytes])
    return buf.getvalue()


def activation_markdown(net: Net, model: QuantizedModel, seed: int) -> tuple[str, bool]:
    """Forward pass on the seeded synthetic input: per-ReLU density, finiteness."""
    x = synthetic_input(net.inputs[next(iter(net.inputs))], seed=seed)
    res = forward(net, model, x)
    finite = all(bool(np.all(np.isfinite(b))) for b in res.blobs.values())
    lines = [f"Forward pass on the synthetic input (seed {seed}, shape {x.shape}): all blobs "
             f"finite: {finite}.", "", "| ReLU | non-zero fraction |", "|---|---|"]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in res.relu_density.items()]
    return "\n".join(lines) + "\n", finite



class _Outputs:
    """Temporary files renamed into place together (or all removed on failure)."""

    def __init__(self, inputs: list[pathlib.Path]) -> None:
        self.pending: list[tuple[pathlib.Path, pathlib.Path]] = []
        self.created_dirs: list[pathlib.Path] = []
        self.inputs = {p.resolve() for p in inputs}

    def temp_for(self, final: pathlib.Path) -> pathlib.Path:
        if final.resolve() in self.inputs:
            raise ValueError(f"output {final} would overwrite an input file")
        missing = []
        d = final.parent
        while not d.exists():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            d.mkdir()
            self.created_dirs.append(d)
        tmp = temp_beside(final)
        self.pending.append((tmp, final))
        return tmp

    def commit(self) -> None:
        for tmp, final in self.pending:
            publish(tmp, final)
        self.pending.clear()

    def discard(self) -> None:
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending.clear()
        for d in reversed(self.created_dirs):
            try:
                d.rmdir()
            except OSError:
                pass
        self.created_dirs.clear()


@dataclass
class Conversion:
    """What :func:`convert` produced: the table, its Markdown, the forward-pass summary
    and the two files' sizes."""

    table: SqueezeNetTable
    markdown: str                    # :func:`table_markdown` of ``table``
    activations: str                 # per-ReLU density of the synthetic forward pass
    authors_bytes: int               # the authors' .net file
    ours_bytes: int                  # our compressed file (whether or not it was kept)
    seconds: float

    def summary(self) -> str:
        """One line: layer / weight / bias / non-zero counts, both file sizes, time."""
        t = self.table
        return (f"{len(t.rows)} parameter layers, {t.total.weights:,} weights, {t.biases:,} biases, "
                f"{t.total.nonzeros:,} non-zeros; authors' file {self.authors_bytes:,} bytes, ours "
                f"{self.ours_bytes:,} bytes; round trip exact; {self.seconds:.2f} s")


def convert(prototxt: str | os.PathLike, net_file: str | os.PathLike, *,
            out: str | os.PathLike | None = None, npz: str | os.PathLike | None = None,
            report_dir: str | os.PathLike | None = None, seed: int = SYNTHETIC_SEED) -> Conversion:
    """Decode the authors' file, re-encode it in our format, check, tabulate, write.

    Parses ``prototxt`` and the authors' ``net_file`` (once), saves our compressed file
    (``out``, or a temporary one), reads it back and demands bit-exact weights and biases
    (else :class:`~compressor.errors.RoundTripError`), builds the Table 4-style table,
    runs the forward pass on the seeded synthetic input (``seed``; non-finite blobs raise
    :class:`~compressor.errors.ForwardError`), and writes the optional outputs: ``out``,
    the dense ``npz`` (``X``, ``X.bias``) and ``report_dir``/``squeezenet_table.md`` /
    ``.csv``. Every output goes to a temporary name first and is renamed only when all
    succeeded, so an error (``PrototxtError``, ``AuthorsFormatError``, ``ForwardError``,
    ``RoundTripError``, ``OSError``, ``ValueError``) leaves no partial output.
    """
    outs = _Outputs([pathlib.Path(prototxt), pathlib.Path(net_file)])
    try:
        t0 = time.perf_counter()
        net = load_net(prototxt)
        net_path = pathlib.Path(net_file)
        try:
            blob = read_regular_file(net_path, MAX_NET_BYTES, AuthorsFormatError, ".net file")
        except OSError as e:
            raise AuthorsFormatError(f"{net_path}: cannot read: {e.strerror or e}") from e
        try:
            records = read_authors_records(net, blob)  # parsed once
            model = model_from_records(records)
        except AuthorsFormatError as e:
            raise AuthorsFormatError(f"{net_path}: {e}") from e
        dense = to_dense(model)

        # our file: save, read back, demand bit-exact weights and biases
        ours_path = outs.temp_for(pathlib.Path(out)) if out else None
        with tempfile.TemporaryDirectory() as td:
            target = ours_path or pathlib.Path(td) / "squeezenet.dcmp"
            fileformat.save(model, target)
            ours_info = fileformat.inspect(target)
            back = fileformat.load(target)
        for lay in model.layers:
            b = back.layer(lay.name)
            if not (np.array_equal(b.weights(), dense[lay.name])
                    and np.array_equal(b.bias, dense[lay.name + ".bias"])):
                raise RoundTripError(f"layer {lay.name!r}: our file does not decode to the authors' weights")

        table = squeezenet_table(records, len(blob), ours_info)
        acts, finite = activation_markdown(net, model, seed)
        if not finite:
            raise ForwardError("forward pass produced non-finite values")
        md = table_markdown(table)

        if npz:
            tmp = outs.temp_for(pathlib.Path(npz))
            with open(tmp, "wb") as fh:
                np.savez(fh, **dense)
        if report_dir:
            rd = pathlib.Path(report_dir)
            outs.temp_for(rd / "squeezenet_table.md").write_text(md + "\n" + acts)
            outs.temp_for(rd / "squeezenet_table.csv").write_text(table_csv(table))
        outs.commit()
    except BaseException:
        outs.discard()
        raise
    return Conversion(table, md, acts, len(blob), ours_info["file_bytes"], time.perf_counter() - t0)
