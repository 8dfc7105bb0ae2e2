"""EIE data layout: a layer's sparse weights as the memory images of N PEs (paper sec. III-IV).

* Rows are interleaved over the PEs: row ``i`` lives in PE ``i mod N`` as local row
  ``i // N`` (paper Fig. 2-3).
* Each PE stores its slice of every column in CSC form: per entry a weight index ``v``
  (``weight_bits``) and the number ``z`` of zeros before it within the PE's own rows
  (``index_bits``). A run of more than ``2**index_bits - 1`` zeros gets a padding entry
  (``v = 0``, weight 0.0, ``z = max_z``). Padding entries are real work (one cycle each).
* The column pointer array ``p`` has ``cols + 1`` entries per PE (plus one for the bias
  column); ``p[j+1] - p[j]`` is the number of entries of column ``j`` in that PE. The
  even/odd pointer banks let ``p[j]`` and ``p[j+1]`` be read in one cycle.
* The bias is one extra column (the *bias column*, activation 1.0) broadcast after the
  last real activation. Its entries carry the bias of their row in fixed point
  (docs/timing.md, choice 3); ``v = 1`` marks a real bias entry, ``v = 0`` padding.
* Spmat SRAM lines hold ``entries_per_line`` entries; entry ``a`` of a PE is in line
  ``a // entries_per_line``.
* A layer with more rows per PE than the destination register file runs in *output
  passes* of ``N x R`` consecutive rows (docs/timing.md, "Output passes").

Everything is built with numpy/numba into flat arrays so both engines can use it
without Python loops over entries (the numba kernels that write the images:
:mod:`eie_sim.hw.layout_images`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from eie_sim.arch.config import ArchConfig
from eie_sim.arch.fixed_point import quantize_exact_range
from eie_sim.errors import LayoutError
from eie_sim.hw.csr import CodesCSR
from eie_sim.hw.encodings import encode_bitmask, encode_nm, mask_rows, nm_violation_error, slot_lines
from eie_sim.hw.encodings import stored_bits  # noqa: F401 (the API: bits of a layout)
from eie_sim.hw.layout_images import encode_runs, layout_csr_rows

# the SRAM fit of a layout (re-exported: callers import them from here)
from eie_sim.hw.sram_need import (  # noqa: F401
    SramNeed,
    check_layer_fits,
    fit_problems,
    pointer_fit_advice,
    sram_need,
    streams,
)


@dataclass
class PassLayout:
    """The memory images of one output pass of one layer on ``n_pe`` PEs.

    Flat entry arrays hold PE 0's entries, then PE 1's, ...; PE ``k``'s entries are
    ``entry_start[k] .. entry_start[k+1]`` and, within them, column ``j`` is
    ``ptr[k, j] .. ptr[k, j+1]`` (offsets relative to ``entry_start[k]``).
    """

    n_pe: int
    row_offset: int            #: first global row of this pass
    rows: int                  #: rows in this pass
    cols: int                  #: real input columns (the bias column not included)
    has_bias: bool
    ptr: np.ndarray            #: int64 (n_pe, n_cols_total + 1)
    entry_start: np.ndarray    #: int64 (n_pe + 1,)
    code: np.ndarray           #: uint8 (entries,): weight index v; 0 = padding
    z: np.ndarray              #: uint8 (entries,): zeros before the entry (relative index)
    local_row: np.ndarray      #: int32 (entries,): decoded local row (row // n_pe within pass)
    encoding: str = "csc"      #: spmat_encoding (eie_sim.hw.encodings); z is the offset for nm
    _lines: dict = field(default_factory=dict, repr=False, compare=False)
    _work: np.ndarray | None = field(default=None, repr=False, compare=False)
    _real: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_cols_total(self) -> int:
        return self.cols + int(self.has_bias)

    @property
    def entries_per_pe(self) -> np.ndarray:
        return np.diff(self.entry_start)

    @property
    def col_entries(self) -> np.ndarray:
        """int64 (n_pe, n_cols_total): entries of each column slice (padding included)."""
        return np.diff(self.ptr, axis=1)

    def column_work(self) -> np.ndarray:
        """int32 (n_cols_total, n_pe), C-contiguous: the cycles PE ``k`` spends on column
        ``j`` when it is broadcast, ``max(1, entries)`` (rule P; the fast engine's table,
        built once per pass)."""
        if self._work is None:
            self._work = np.ascontiguousarray(np.maximum(self.col_entries, 1).T, dtype=np.int32)
        return self._work

    def column_real(self) -> np.ndarray:
        """int32 (n_cols_total, n_pe): the real (non-padding) entries of each column slice
        (built once per pass; the windowed counters use it)."""
        if self._real is None:
            real = np.zeros(self.n_pe * self.n_cols_total, dtype=np.int64)
            slot = np.repeat(np.arange(real.size), self.col_entries.reshape(-1))
            np.add.at(real, slot[self.code != 0], 1)
            self._real = np.ascontiguousarray(real.reshape(self.n_pe, self.n_cols_total).T,
                                              dtype=np.int32)
        return self._real

    def spmat_lines(self, cfg: ArchConfig) -> tuple[np.ndarray, np.ndarray]:
        """``(line, mask_line)`` of every slot (rule S; :func:`eie_sim.hw.encodings.slot_lines`),
        cached per line width."""
        key = (cfg.spmat_width_bits, cfg.entry_bits)
        if key not in self._lines:
            self._lines[key] = slot_lines(self, cfg)
        return self._lines[key]

    @property
    def n_entries(self) -> int:
        return int(self.entry_start[-1])

    @property
    def n_padding(self) -> int:
        return int(np.count_nonzero(self.code == 0))

    def global_rows(self) -> np.ndarray:
        """int64 (entries,): global row of every entry (PE k, local row r -> offset + r N + k)."""
        pe_of_entry = np.repeat(np.arange(self.n_pe, dtype=np.int64), self.entries_per_pe)
        return self.row_offset + self.local_row.astype(np.int64) * self.n_pe + pe_of_entry

    def columns(self) -> np.ndarray:
        """int64 (entries,): column of every entry (``cols`` for the bias column)."""
        counts = self.col_entries.reshape(-1)
        col_ids = np.tile(np.arange(self.n_cols_total, dtype=np.int64), self.n_pe)
        return np.repeat(col_ids, counts)


@dataclass
class LayerLayout:
    """A whole layer: its passes plus the fixed-point tables the arithmetic unit reads."""

    name: str
    rows: int
    cols: int
    n_pe: int
    passes: list[PassLayout]
    codebook: np.ndarray       #: float32 (2**weight_bits,), codebook[0] == 0.0
    codebook_q: np.ndarray     #: int64 fixed-point codebook (weight_frac_bits)
    bias: np.ndarray | None    #: float32 (rows,) or None
    bias_q: np.ndarray         #: int64 (rows,) fixed-point bias (output_frac_bits); zeros if none
    nnz: int                   #: real (non-padding) weight entries, bias excluded
    meta: dict = field(default_factory=dict)

    @property
    def has_bias(self) -> bool:
        return self.bias is not None

    @property
    def n_entries(self) -> int:
        return sum(p.n_entries for p in self.passes)

    @property
    def n_padding(self) -> int:
        return sum(p.n_padding for p in self.passes)


def build_pass(rows_idx: np.ndarray, cols_idx: np.ndarray, codes: np.ndarray, *,
               n_pe: int, row_offset: int, rows: int, cols: int,
               bias_rows: np.ndarray | None, max_z: int) -> PassLayout:
    """Lay out the non-zeros ``(rows_idx, cols_idx, codes)`` of one pass.

    Not used by :func:`build_layer` (which lays out straight from the CSR form with
    :func:`~eie_sim.hw.layout_images.layout_csr_rows`): this is the straightforward
    construction (``lexsort`` + :func:`~eie_sim.hw.layout_images.encode_runs`), kept as the independent reference that
    ``tests/eie_sim/test_engine_fast.py::test_layout_fast_path_matches_build_pass``
    compares the fast path with.

    ``rows_idx`` are global rows in ``[row_offset, row_offset + rows)``; ``bias_rows``
    (global rows with a non-zero bias) become the bias column, or ``None`` for no bias.
    """
    r = np.asarray(rows_idx, dtype=np.int64) - row_offset
    c = np.asarray(cols_idx, dtype=np.int64)
    v = np.asarray(codes, dtype=np.uint8)
    has_bias = bias_rows is not None
    if has_bias:
        br = np.asarray(bias_rows, dtype=np.int64) - row_offset
        r = np.concatenate([r, br])
        c = np.concatenate([c, np.full(br.shape, cols, dtype=np.int64)])
        v = np.concatenate([v, np.ones(br.shape, dtype=np.uint8)])
    pe = r % n_pe
    local = r // n_pe
    n_cols_total = cols + int(has_bias)
    order = np.lexsort((local, c, pe))
    ptr, entry_start, out_code, out_z, out_local = encode_runs(
        pe[order], c[order], local[order], v[order], n_pe, n_cols_total, max_z)
    return PassLayout(n_pe=n_pe, row_offset=row_offset, rows=rows, cols=cols,
                      has_bias=has_bias, ptr=ptr, entry_start=entry_start,
                      code=out_code, z=out_z, local_row=out_local)


#: most column pointers a layout may hold (int64: 1 GiB), checked before building it
MAX_LAYOUT_POINTERS = 1 << 27


def build_layer(codes: "CodesCSR | np.ndarray", codebook: np.ndarray, bias: np.ndarray | None,
                cfg: ArchConfig, name: str = "layer", check_fit: bool = True) -> LayerLayout:
    """Lay out one fully-connected layer ``y = W x + b`` with ``W = codebook[codes]``.

    ``codes``: the layer's weight indices (0 = pruned) as :class:`~eie_sim.hw.csr.CodesCSR`
    or a dense ``(rows, cols)`` integer matrix (converted once); ``codebook`` has at most
    ``2**cfg.weight_bits`` entries with ``codebook[0] == 0``. Raises :class:`LayoutError`
    when the layer does not fit the SRAMs (with how much is needed and how many PEs would
    fit it).
    """
    if not isinstance(codes, CodesCSR):
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise LayoutError(f"layer {name!r}: expected a 2-D (rows, cols) weight matrix, got shape {codes.shape}")
        codes = CodesCSR.from_dense(codes)
    rows, cols = codes.shape
    if rows == 0 or cols == 0:
        raise LayoutError(f"layer {name!r}: empty weight matrix {codes.shape}")
    codebook = np.asarray(codebook, dtype=np.float32).reshape(-1)
    if codebook.size > cfg.codebook_size:
        raise LayoutError(
            f"layer {name!r}: codebook has {codebook.size} entries but weight_bits="
            f"{cfg.weight_bits} addresses only {cfg.codebook_size}; set weight_bits >= "
            f"{math.ceil(math.log2(codebook.size))} or quantize the layer to fewer bits")
    if codebook.size == 0 or codebook[0] != 0.0:
        raise LayoutError(f"layer {name!r}: codebook[0] must be 0.0 (the padding value)")
    if codes.nnz and codes.data.max() >= codebook.size:
        raise LayoutError(f"layer {name!r}: weight codes must lie in 0..{codebook.size - 1}")
    full_cb = np.zeros(cfg.codebook_size, dtype=np.float32)
    full_cb[:codebook.size] = codebook
    codebook_q = quantize_exact_range(full_cb, cfg.weight_frac_bits, cfg.word_bits,
                                      f"layer {name!r} codebook")
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        if bias.shape != (rows,):
            raise LayoutError(f"layer {name!r}: bias has {bias.size} values for {rows} rows")
        bias_q = quantize_exact_range(bias, cfg.output_frac_bits, cfg.word_bits,
                                      f"layer {name!r} bias")
    else:
        bias_q = np.zeros(rows, dtype=np.int64)

    # the pointer images alone: (cols + bias + 1) per PE and pass; refuse before allocating
    rows_per_pass = cfg.pes * cfg.act_regs_per_pe
    n_pointers = -(-rows // rows_per_pass) * cfg.pes * (cols + 2)
    if n_pointers > MAX_LAYOUT_POINTERS:
        raise LayoutError(
            f"layer {name!r}: {rows} x {cols} on {cfg.pes} PEs needs {n_pointers:,} column "
            f"pointers ({-(-rows // rows_per_pass)} output passes x {cfg.pes} PEs x {cols + 2}), "
            f"more than the {MAX_LAYOUT_POINTERS:,} the simulator lays out (EIE's pointer SRAM "
            f"holds {cfg.pointer_capacity:,} per PE)")
    # one counting sort per pass straight from the CSR form (the images of build_pass)
    bias_nz = (bias_q != 0) if bias is not None else np.zeros(rows, dtype=np.bool_)
    passes = []
    for start in range(0, rows, rows_per_pass):
        stop = min(rows, start + rows_per_pass)
        if cfg.spmat_encoding != "csc":
            passes.append(_encoded_pass(codes, start, stop, bias_nz[start:stop], bias is not None,
                                          cfg, name))
            continue
        ptr, entry_start, out_code, out_z, out_local = layout_csr_rows(
            codes.indptr, codes.indices, codes.data, cols, start, stop, cfg.pes,
            bias_nz[start:stop], bias is not None, cfg.max_z)
        passes.append(PassLayout(n_pe=cfg.pes, row_offset=start, rows=stop - start,
                                 cols=cols, has_bias=bias is not None, ptr=ptr,
                                 entry_start=entry_start, code=out_code, z=out_z,
                                 local_row=out_local))
    layout = LayerLayout(name=name, rows=rows, cols=cols, n_pe=cfg.pes, passes=passes,
                         codebook=full_cb, codebook_q=codebook_q, bias=bias, bias_q=bias_q,
                         nnz=codes.nnz)
    if check_fit:
        check_layer_fits(layout, cfg)
    return layout


def _encoded_pass(codes: CodesCSR, start: int, stop: int, bias_nz: np.ndarray,
                  has_bias: bool, cfg: ArchConfig, name: str) -> PassLayout:
    """One output pass in the ``bitmask`` or ``nm`` encoding (:mod:`eie_sim.hw.encodings`)
    from the CSR rows ``start .. stop-1``."""
    n = cfg.pes
    lo, hi = int(codes.indptr[start]), int(codes.indptr[stop])
    r = np.repeat(np.arange(start, stop, dtype=np.int64),
                  np.diff(codes.indptr[start:stop + 1])) - start
    c = np.asarray(codes.indices[lo:hi], dtype=np.int64)
    v = np.asarray(codes.data[lo:hi], dtype=np.uint8)
    keep = v != 0
    r, c, v = r[keep], c[keep], v[keep]
    cols = codes.shape[1]
    if has_bias:
        br = np.flatnonzero(bias_nz).astype(np.int64)
        r = np.concatenate([r, br])
        c = np.concatenate([c, np.full(br.shape, cols, dtype=np.int64)])
        v = np.concatenate([v, np.ones(br.shape, dtype=np.uint8)])
    pe, local = r % n, r // n
    order = np.lexsort((local, c, pe))
    pe, c, local, v = pe[order], c[order], local[order], v[order]
    R = mask_rows(stop - start, n)
    if cfg.spmat_encoding == "bitmask":
        ptr, es, oc, oz, ol = encode_bitmask(pe, c, local, v, n, cols + int(has_bias), R,
                                             cfg.spmat_width_bits)
    else:
        ptr, es, oc, oz, ol, bad = encode_nm(pe, c, local, v, n, cols, has_bias, R,
                                             cfg.nm_n, cfg.nm_m)
        if bad[0] >= 0:
            raise nm_violation_error(name, bad, start, n, cfg)
    return PassLayout(n_pe=n, row_offset=start, rows=stop - start, cols=cols,
                      has_bias=has_bias, ptr=ptr, entry_start=es, code=oc, z=oz,
                      local_row=ol, encoding=cfg.spmat_encoding)


#: the configuration keys a layout depends on (a sweep over any other key reuses it);
#: ``spmat_width_bits`` too with ``spmat_encoding: bitmask`` (its masks' skip slots)
LAYOUT_KEYS = ("pes", "act_regs_per_pe", "index_bits", "weight_bits", "weight_frac_bits",
               "act_frac_bits", "word_bits", "out_frac_bits", "spmat_encoding", "nm_n", "nm_m")


def layout_key(cfg: ArchConfig) -> tuple:
    """The values of :data:`LAYOUT_KEYS` (two configurations with the same key give the
    same layout; the SRAM fit check depends on more and is run per configuration)."""
    width = cfg.spmat_width_bits if cfg.spmat_encoding == "bitmask" else None
    return tuple(getattr(cfg, k) for k in LAYOUT_KEYS) + (width,)
