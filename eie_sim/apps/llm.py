"""One decode step of an LLM on EIE: its fully-connected layers, generated, simulated and
discarded one at a time (docs/llm.md).

:func:`run_llm` walks the FC layers of a decode step (:func:`eie_sim.workloads.llm.fc_layers`):
each layer is generated in sparse form (:func:`~eie_sim.workloads.llm.llm_layer`), fed
``batch`` token vectors (:func:`~eie_sim.workloads.llm.llm_inputs`), simulated cycle-exactly
by the per-layer simulation (:func:`eie_sim.sim.layer.simulate_layer`, every output checked
against numpy, the multi-chip split when ``chips`` > 1), and dropped before the next one
is generated, so memory is bounded by the largest layer. The result is a
:class:`~eie_sim.sim.results.NetRun` (rendered by :mod:`eie_sim.output.netrun` like every
network) carrying the decode-step figures of :func:`step_summary` in ``run.llm``.

Until the DRAM model is on this branch, a layer larger than the SRAMs runs only with the
fit check off (``run.check_fit: false``, ``--no-fit-check``): its weights are then taken
to be on chip, and :func:`step_summary` puts the bandwidth roofline of streaming them
beside the cycles (:data:`PEAK_BANDWIDTH_GBPS`). Where the layer rows carry the DRAM
columns (``dram_stall_cycles``, ``dram_bytes``, ``energy_dram_uj``), the summary adds them up.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Iterable

import numpy as np

from eie_sim.arch import energy as energy_mod
from eie_sim.arch.config import PAPER_CONFIG, ArchConfig
from eie_sim.errors import LayoutError, WorkloadError
from eie_sim.hw.layout import check_layer_fits
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.multichip import LINK_NOTE
from eie_sim.sim.options import SimOptions
from eie_sim.sim.results import NetRun
from eie_sim.workloads import llm
from eie_sim.workloads.chips import chip_workloads

__all__ = ["run_llm", "step_summary", "PEAK_BANDWIDTH_GBPS", "DRAM_COLUMNS", "roofline",
           "stored_bytes"]

#: peak bandwidth of one DRAM interface, for the roofline (GB/s, 10^9 bytes/s): data rate x
#: bus width. Sources: DDR4-3200, one 64-bit channel (JEDEC JESD79-4); LPDDR4-4266 and
#: LPDDR5-6400, one x32 package (two x16 channels; JESD209-4, JESD209-5); HBM2, one stack of
#: 1024 bits at 2.0 Gb/s per pin (JESD235A).
PEAK_BANDWIDTH_GBPS: dict[str, float] = {
    "ddr4_3200": 3200e6 * 8 / 1e9, "lpddr4_4266": 4266e6 * 4 / 1e9,
    "lpddr5_6400": 6400e6 * 4 / 1e9, "hbm2": 2.0e9 * 1024 / 8 / 1e9}

#: the DRAM columns of a layer row (written by the DRAM model where it runs)
DRAM_COLUMNS = ("dram_stall_cycles", "dram_bytes", "energy_dram_uj")


def _parts(wl, cfg: ArchConfig):
    return chip_workloads(wl, cfg.chips) if cfg.chips > 1 else [wl]


def _fit_row(wl, cfg: ArchConfig) -> dict[str, Any]:
    """The SRAM fit row of a layer (the fullest chip's), as the network runner writes it."""
    one = cfg.replace(chips=1)
    row = {"layer": wl.name, "max_entries_per_pe": 0, "padding_entries": 0, "fits": True, "why": ""}
    for p in _parts(wl, cfg):
        lay = p.layout(one, check_fit=False)
        per_pe = np.sum([q.entries_per_pe for q in lay.passes], axis=0)
        row["max_entries_per_pe"] = max(row["max_entries_per_pe"], int(per_pe.max()))
        row["padding_entries"] += int(lay.n_padding)
        try:
            check_layer_fits(lay, one)
        except LayoutError as exc:
            row.update(fits=False, why=str(exc))
    return row


def stored_bytes(wl, cfg: ArchConfig) -> int:
    """Bytes of a layer's stored form on ``cfg``: every Spmat entry (padding and bias
    entries included, ``weight_bits + index_bits`` each) and every column pointer
    (``pointer_bits``, ``cols (+ bias) + 1`` per PE and output pass), over every chip: what
    streaming the layer once from DRAM moves."""
    one = cfg.replace(chips=1)
    bits = 0
    for p in _parts(wl, cfg):
        lay = p.layout(one, check_fit=False)
        bits += lay.n_entries * cfg.entry_bits
        bits += sum((q.n_cols_total + 1) * q.n_pe for q in lay.passes) * cfg.pointer_bits
    return (bits + 7) // 8


def model_fits_on_chip(shape: llm.TransformerShape, density: float, cfg: ArchConfig) -> bool:
    """Whether the weights of *every* FC layer of the model (all blocks and the LM head) can
    stay in the chips' Spmat SRAMs together: a lower bound of their stored bits (the
    non-zeros at ``entry_bits``, no padding, no pointers) against ``pes x chips x
    spmat_sram_kb``. When they cannot, a decode step streams every layer from DRAM
    (``dram_stream: always``), also those that would fit alone (docs/llm.md)."""
    nnz = sum(round(density * fc.rows * fc.cols) for fc in llm.fc_layers(shape, None, True))
    return nnz * cfg.entry_bits <= cfg.pes * cfg.chips * cfg.spmat_sram_kb * 1024 * 8


def run_llm(name: str, cfg: ArchConfig | None = None, *, density: float = 0.5,
            batch: int | None = None,
            act_threshold: float = 0.0, prune: str = "global", context: int = 1024,
            seed: int = 0, blocks: int | None = None, layers: Iterable[str] | None = None,
            lm_head: bool = True, options: SimOptions | None = None, nu: float = llm.DEFAULT_NU,
            sigma: float = llm.DEFAULT_SIGMA, progress=None) -> NetRun:
    """One decode step of ``batch`` tokens of the LLM ``name`` (module docstring).

    ``batch``: tokens per step, the architecture key ``batch`` of ``cfg`` (None: keep
    ``cfg.batch``; a number sets it: there is one batch key); ``density``: kept weights;
    ``prune``: ``global`` or ``per-row`` magnitude pruning;
    ``act_threshold``: inputs with ``|x|`` below it are zeroed; ``context``: KV-cache length
    (host work only); ``blocks``: only the first that many transformer blocks (step totals
    then **extrapolated** to all blocks and labelled so); ``layers``: only these layer names
    (no extrapolation). Raises :class:`WorkloadError` for bad options and
    :class:`~eie_sim.errors.LayoutError` for a layer that does not fit the SRAMs while
    ``options.check_fit`` is on.
    """
    t0 = time.perf_counter()
    shape = llm.get_shape(name)
    cfg = cfg or PAPER_CONFIG
    opt = options or SimOptions()
    batch = cfg.batch if batch is None else batch
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise WorkloadError(f"batch: expected an integer >= 1, got {batch!r}")
    if not 0.0 < density <= 1.0:
        raise WorkloadError(f"weight_density: expected a fraction in (0, 1], got {density!r}")
    if act_threshold < 0:
        raise WorkloadError(f"act_threshold: expected a number >= 0, got {act_threshold!r}")
    if prune not in llm.PRUNE_MODES:
        raise WorkloadError(f"prune: expected one of {', '.join(llm.PRUNE_MODES)}, got {prune!r}")
    if blocks is not None and not 1 <= blocks <= shape.layers:
        raise WorkloadError(f"blocks: expected 1..{shape.layers} for {name}, got {blocks!r}")
    fcs = llm.fc_layers(shape, blocks, lm_head)
    wanted = [n.strip() for n in (layers or []) if n.strip()]
    if wanted:
        every = llm.fc_layers(shape, None, True)
        known = {f.name: f for f in every}
        bad = [n for n in wanted if n not in known]
        if bad:
            raise WorkloadError(f"unknown {name} layer(s) {bad}; layers are block0.."
                                f"block{shape.layers - 1} x ({', '.join(f.kind for f in every[:len(every) // shape.layers])})"
                                f" and lm_head, e.g. block0.{every[0].kind}")
        fcs = [known[n] for n in wanted]
    batch = int(batch)
    cfg_run = cfg.replace(batch=batch) if cfg.batch != batch else cfg
    if cfg_run.dram != "none" and cfg_run.dram_stream == "auto" and \
            not model_fits_on_chip(shape, density, cfg_run):
        # a layer that fits the SRAMs alone is still not resident across decode steps when
        # the model's weights do not all fit: every layer streams once per step
        cfg_run = cfg_run.replace(dram_stream="always")
    if progress:
        progress.start(len(fcs))
    results, fit = [], []
    for fc in fcs:
        t1 = time.perf_counter()
        wl = llm.llm_layer(shape, fc, density, prune=prune, seed=seed,
                           weight_bits=cfg.weight_bits, nu=nu, sigma=sigma)
        x = llm.llm_inputs(fc, batch, seed, act_threshold)
        try:
            res = simulate_layer(wl, x, cfg_run, opt, relu=False,
                                 seeds={"weight_seed": seed, "input_seed": seed})
        except LayoutError as exc:
            raise LayoutError(f"{name}: {exc} (--no-fit-check / run.check_fit: false to simulate "
                              f"it as if on chip; more chips: chips=N; docs/llm.md)") from None
        res.meta.update({"kernel": "fc", "out_map": "1x1", "out_hw": (1, 1), "type": "InnerProduct",
                         "class": fc.kind, "block": fc.block, "relu_on_eie": False,
                         "input": fc.input, "dense_macs": fc.rows * fc.cols,
                         "stored_bytes": stored_bytes(wl, cfg_run)})
        fit.append(_fit_row(wl, cfg_run))
        res.wall_s = time.perf_counter() - t1
        results.append(res)
        del wl, x                    # one layer at a time: drop it before the next
        if progress:
            progress.update(1)
            progress.note(f"{fc.name}: {res.cycles:,} cycles for {batch} token(s), "
                          f"{res.wall_s:.2f} s")
    run = NetRun(name=name, mode="per-layer", layers=results, config=cfg_run,
                 check_fit=opt.check_fit, synthetic=True,
                 seeds={"weight_seed": seed, "input_seed": seed},
                 title=f"SYNTHETIC {name}: one decode step ({batch} token(s)) of its FC layers on EIE",
                 source={"kind": "network", "network": name, "synthetic": True,
                         "shape": dataclasses.asdict(shape)})
    run.fit = fit
    scale = shape.layers / blocks if blocks is not None and not wanted else 1.0
    run.llm = step_summary(run, shape, batch=batch, density=density, prune=prune,
                           act_threshold=act_threshold, context=context, block_scale=scale,
                           partial=bool(wanted))
    run.notes = _notes(run, shape, nu, sigma, seed, opt)
    run.wall_s = time.perf_counter() - t0
    return run


def _sum(run: NetRun, key: str, block_scale: float) -> float:
    """A layer-row column summed over the step (block layers x ``block_scale``)."""
    tot = 0.0
    for r in run.layers:
        v = r.to_dict().get(key) if key not in r.meta else r.meta[key]
        if v in (None, ""):
            continue
        tot += float(v) * (block_scale if r.meta.get("block", -1) >= 0 else 1.0)
    return tot


def roofline(stored: float, cycles: float, cfg: ArchConfig, bandwidth_gbps: float) -> dict[str, Any]:
    """The bandwidth roofline of one step: EIE's time (``cycles``) beside the time to
    stream ``stored`` bytes once at ``bandwidth_gbps``; the step takes at least the larger
    (streaming overlapped with compute, as double buffering allows)."""
    t_eie = cycles / (cfg.clock_mhz * 1e6)
    t_dram = stored / (bandwidth_gbps * 1e9)
    return {"bandwidth_gbps": bandwidth_gbps, "eie_s": t_eie, "dram_s": t_dram,
            "bound_s": max(t_eie, t_dram), "bound": "compute" if t_eie >= t_dram else "bandwidth",
            "needed_gbps": stored / t_eie / 1e9 if t_eie else float("inf")}


def step_summary(run: NetRun, shape: llm.TransformerShape, *, batch: int, density: float,
                 prune: str, act_threshold: float, context: int, block_scale: float = 1.0,
                 partial: bool = False) -> dict[str, Any]:
    """Decode-step figures of a run: cycles, time, tokens/s, J/token, stored bytes per step
    and per token, the DRAM columns when the layers carry them, host FLOPs per token, the
    activation density by layer kind and the roofline per :data:`PEAK_BANDWIDTH_GBPS`."""
    cfg = run.config
    cycles = _sum(run, "cycles", block_scale)
    energy_uj = _sum(run, "total_energy_uj", block_scale)
    stored = _sum(run, "stored_bytes", block_scale)
    macs = _sum(run, "useful_macs", block_scale)
    t = cycles / (cfg.clock_mhz * 1e6)
    out: dict[str, Any] = {
        "network": shape.name, "batch": batch, "weight_density": density, "prune": prune,
        "act_threshold": act_threshold, "context": context, "pes": cfg.pes, "chips": cfg.chips,
        "extrapolated": block_scale != 1.0, "block_scale": block_scale, "partial": partial,
        "layers_simulated": len(run.layers), "cycles": cycles, "time_s": t,
        "tokens_per_s": batch / t if t else 0.0,
        "energy_j_per_token": energy_uj * 1e-6 / batch, "stored_bytes": stored,
        "stored_bytes_per_token": stored / batch, "eie_macs_per_token": macs / batch,
        "host_flops_per_token": llm.host_flops(shape, context),
        "link_bytes": _sum(run, "link_bytes", block_scale)}
    for col in DRAM_COLUMNS:
        if run.layers and col in run.layers[0].to_dict():
            out[col] = _sum(run, col, block_scale)
    if "dram_bytes" in out:
        out["dram_gbps"] = out["dram_bytes"] / t / 1e9 if t else 0.0
    dens: dict[str, list] = {}
    for r in run.layers:
        dens.setdefault(r.meta.get("class", ""), []).append(r.act_density)
    out["act_density_by_kind"] = {k: float(np.mean(v)) for k, v in dens.items()}
    out["roofline"] = {k: roofline(stored, cycles, cfg, bw) for k, bw in PEAK_BANDWIDTH_GBPS.items()}
    return out


def _notes(run: NetRun, shape: llm.TransformerShape, nu: float, sigma: float, seed: int,
           opt: SimOptions) -> list[str]:
    s = run.llm
    notes = []
    if s["extrapolated"]:
        notes.append(f"EXTRAPOLATED: the first {round(shape.layers / s['block_scale'])} of "
                     f"{shape.layers} transformer blocks were simulated; step totals = their "
                     f"layers x {s['block_scale']:g} (+ the LM head), the blocks having the same "
                     f"shapes and generator (other seeds)")
    notes += [
        f"SYNTHETIC: {shape.name} at its published shape ({shape.source}); weights i.i.d. "
        f"Student-t (nu={nu:g}, std {sigma:g}), magnitude-pruned ({s['prune']}) to density "
        f"{s['weight_density']:g}, quantile-quantized (seed {seed}); not a trained model.",
        f"One decode step = {s['batch']} token(s) through every FC layer; attention, "
        f"normalisation, softmax, rotary embeddings, activation functions and residuals are host "
        f"work: {s['host_flops_per_token']['total']:,} FLOPs per token at context "
        f"{s['context']} (not timed on EIE).",
        f"Inputs: normal (normalised hidden states, attention outputs), SiLU(g) x u (SwiGLU) or "
        f"GELU(h) (GPT-2 MLP); act_threshold {s['act_threshold']:g} zeroes |x| below it.",
        f"E{energy_mod.model_note(opt.energy_table)[1:]}.",
    ]
    if not opt.check_fit:
        notes.append("--no-fit-check: layers larger than the SRAMs ran as if their weights were on "
                     "chip" + ("" if any(c in run.layers[0].to_dict() for c in DRAM_COLUMNS)
                               else " (no DRAM model here: see the roofline for streaming them)"))
    if run.config.dram != "none" and run.config.dram_stream == "always" and \
            not model_fits_on_chip(shape, s["weight_density"], run.config):
        notes.append(f"Every layer streams from {run.config.dram} once per step: the model's "
                     f"weights (at least {s['weight_density']:g} x its FC parameters at "
                     f"{run.config.entry_bits} bits) exceed the chips' Spmat SRAM "
                     f"({run.config.pes * run.config.chips * run.config.spmat_sram_kb / 1024:g} MB), "
                     "so no layer stays resident across steps (docs/llm.md)")
    if run.config.chips > 1:
        notes.append(LINK_NOTE)
    return notes
