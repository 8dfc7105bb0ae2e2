"""Pruning with the simulator in the loop: keep-masks that minimise simulated EIE cycles at
a fixed non-zero budget (issue 26; docs/hw_prune.md).

The loop is the compressor's generic :func:`compressor.prune_rebalance.cost_guided_mask`;
this module supplies its cost model, the simulator:

* **Score** of a mask: the layer's cycles on the sample inputs from the analytical engine
  (:mod:`eie_sim.hw.analytical`: the most-loaded PE of every sync window and the
  activation-queue stalls), then the largest expected PE load, then the spread of the
  loads (lower first; the second and third keys let the loop walk over plateaus where the
  most-loaded PE is tied). A step is kept only if this score drops.
* **Where to move** (``give``/``take``): PE ``p``'s expected load is
  ``L_p = sum_j f_j max(1, e_pj)`` (``e_pj``: its non-zeros in column ``j``, ``f_j``: the
  fraction of sample inputs whose activation ``j`` is non-zero; a PE spends at least one
  cycle on every broadcast column, docs/timing.md rule P). Removing a weight saves
  ``f_j`` only where ``e_pj >= 2``, so ``give = f_j (L_p - mean L)`` there for the PEs
  above the mean; adding one to an empty slice is free, so ``take = f_j [e_qj >= 1]`` for
  the PEs below the mean (others cannot receive).
* **Confirmation**: the start mask and the result are simulated with a cycle-exact engine
  (``confirm_engine``, default ``fast``); if the result is slower there, the start
  mask is returned (``fallback`` in the record), so the result is never slower,
  cycle-exactly, than the mask it started from.

The matrix simulated for timing holds the kept pattern only (every kept weight code 1):
EIE's cycles depend on which weights are non-zero and which activations are, not on
their values (docs/timing.md). The layer's bias (if any) is broadcast as EIE does.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from compressor.prune import balanced_mask, pe_of_row, prune_mask
from compressor.prune_rebalance import Evaluation, cost_guided_mask
from eie_sim.arch.config import ArchConfig
from eie_sim.errors import WorkloadError
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.layer import LayerWorkload

#: start masks: the unstructured magnitude cut, or ESE's balance per column
STARTS = ("magnitude", "balanced")


def _check(w: np.ndarray, x: np.ndarray, density: float, name: str) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise WorkloadError(f"layer {name!r}: expected a 2-D (outputs x inputs) matrix, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise WorkloadError(f"layer {name!r}: weights contain NaN or infinity")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != w.shape[1] or x.shape[0] < 1:
        raise WorkloadError(f"layer {name!r}: sample inputs of shape {x.shape}, expected "
                            f"(vectors, {w.shape[1]})")
    if not np.all(np.isfinite(x)):
        raise WorkloadError(f"layer {name!r}: sample inputs contain NaN or infinity")
    if not 0.0 < density <= 1.0:
        raise WorkloadError(f"layer {name!r}: density must lie in (0, 1], got {density!r}")
    return w, x


def layer_figures(w: np.ndarray, mask: np.ndarray, x: np.ndarray, cfg: ArchConfig, *,
                  bias: np.ndarray | None = None, engine: str = "fast",
                  name: str = "layer") -> dict:
    """Cycles (summed over the sample inputs), load efficiency, queue-full stalls, non-zeros
    and the retained share of ``sum |w|`` of the keep-mask ``mask`` on ``engine``."""
    mask = np.asarray(mask, dtype=bool)
    codes = mask.astype(np.int64)
    lw = LayerWorkload(name, codes, np.array([0.0, 1.0], np.float32),
                       None if bias is None else np.zeros(np.shape(bias)[0], np.float32), bits=1)
    res = simulate_layer(lw, np.asarray(x, np.float64), cfg,
                         SimOptions(engine=engine, check=False, check_fit=False), relu=True)
    row = res.to_dict()
    a = np.abs(np.asarray(w, np.float64))
    return {"cycles": int(row["cycles"]), "load_efficiency": float(row["load_efficiency"]),
            "queue_full_stalls": int(row.get("queue_full_stalls", 0) or 0),
            "nnz": int(mask.sum()), "kept_magnitude": float(a[mask].sum() / max(a.sum(), 1e-300))}


def start_mask(w: np.ndarray, density: float, pes: int, start: str = "magnitude") -> np.ndarray:
    """The mask the loop starts from: ``magnitude`` (:func:`~compressor.prune.prune_mask`)
    or ``balanced`` (:func:`~compressor.prune.balanced_mask`, per column)."""
    if start == "magnitude":
        return prune_mask(w, density=density)
    if start == "balanced":
        return balanced_mask(w, pes, density, scope="column")
    raise WorkloadError(f"start {start!r}: expected one of {', '.join(STARTS)}")


def sim_cost_model(w: np.ndarray, x: np.ndarray, cfg: ArchConfig, *,
                   bias: np.ndarray | None = None, engine: str = "analytical",
                   name: str = "layer") -> Callable[[np.ndarray], Evaluation]:
    """The simulator as the loop's cost model (module docstring, "Score" and "Where to move")."""
    pes = int(cfg.pes)
    pe = pe_of_row(w.shape[0], pes)
    f = (np.asarray(x) != 0).mean(axis=0)                                  # (cols,)

    def evaluate(mask: np.ndarray) -> Evaluation:
        fig = layer_figures(w, mask, x, cfg, bias=bias, engine=engine, name=name)
        e = np.stack([mask[pe == p].sum(axis=0) for p in range(pes)])       # (pes, cols)
        load = (np.maximum(1, e) * f[None, :]).sum(axis=1)                  # (pes,)
        ref = load.mean()
        give = np.where((e >= 2) & (load[:, None] > ref), f[None, :] * (load - ref)[:, None], 0.0)
        take = np.where(load[:, None] < ref, f[None, :] * (e >= 1), np.inf)
        score = (fig["cycles"], round(float(load.max()), 9), round(float(((load - ref) ** 2).sum()), 6))
        return Evaluation(score, give, take, {**fig, "max_pe_load": float(load.max())})
    return evaluate


@dataclasses.dataclass
class HwPruneResult:
    """One layer pruned for the hardware: the kept ``mask``, the ``trajectory`` of the
    loop (analytical figures per round), the cycle-exact figures of the start and the
    result (``start``, ``final``), and how it ran (``record``: seed, engines, ...)."""

    name: str
    mask: np.ndarray
    trajectory: list[dict]
    start: dict
    final: dict
    record: dict

    def to_dict(self) -> dict:
        return {"layer": self.name, "start": self.start, "final": self.final,
                "record": self.record, "trajectory": self.trajectory}


def hw_prune_layer(w: np.ndarray, density: float, x: np.ndarray, cfg: ArchConfig, *,
                   bias: np.ndarray | None = None, start: str = "magnitude",
                   iterations: int = 30, fraction: float = 0.02, seed: int = 0,
                   inner_engine: str = "analytical", confirm_engine: str = "fast",
                   accept: Callable[[np.ndarray], bool | tuple[bool, dict]] | None = None,
                   name: str = "layer") -> HwPruneResult:
    """Prune ``w`` (outputs x inputs) to ``round(density x size)`` non-zeros for the fewest
    simulated cycles on the sample inputs ``x`` (``(vectors, inputs)``) at ``cfg``
    (module docstring). ``accept(mask)``: an extra constraint a step must meet (e.g. an
    accuracy floor). Deterministic given ``seed``."""
    w, x = _check(w, x, density, name)
    m0 = start_mask(w, density, int(cfg.pes), start)
    evaluate = sim_cost_model(w, x, cfg, bias=bias, engine=inner_engine, name=name)
    mask, traj = cost_guided_mask(w, m0, int(cfg.pes), evaluate, iterations=iterations,
                                  fraction=fraction, seed=seed, accept=accept)
    first = layer_figures(w, m0, x, cfg, bias=bias, engine=confirm_engine, name=name)
    final = layer_figures(w, mask, x, cfg, bias=bias, engine=confirm_engine, name=name)
    fallback = final["cycles"] > first["cycles"]
    if fallback:
        mask, final = m0, first
    record = {"seed": int(seed), "density": float(density), "start": start, "pes": int(cfg.pes),
              "iterations": int(iterations), "fraction": float(fraction),
              "inner_engine": inner_engine, "confirm_engine": confirm_engine,
              "sample_inputs": int(x.shape[0]), "fallback": bool(fallback),
              "accepted_steps": sum(1 for t in traj[1:] if t["accepted"])}
    return HwPruneResult(name, mask, traj, first, final, record)


def _forward(weights: dict[str, np.ndarray], names: list[str], masks: dict[str, np.ndarray],
             x: np.ndarray, stop: str | None = None) -> np.ndarray:
    """The float forward pass of the fully-connected chain ``names`` (ReLU between layers,
    none after the last) with ``masks`` applied; ``stop``: return the input of that layer."""
    h = np.asarray(x, np.float64)
    for i, name in enumerate(names):
        if name == stop:
            return h
        w = np.asarray(weights[name], np.float64)
        if name in masks:
            w = np.where(masks[name], w, 0.0)
        b = weights.get(f"{name}.bias")
        h = h @ w.T + (0.0 if b is None else np.asarray(b, np.float64))
        if i < len(names) - 1:
            h = np.maximum(h, 0.0)
    return h


def accuracy(weights: dict[str, np.ndarray], masks: dict[str, np.ndarray], x: np.ndarray,
             y: np.ndarray) -> float:
    """Top-1 accuracy (%) of the fully-connected chain ``weights`` with ``masks`` applied
    (the class is the argmax of the last layer's output)."""
    names = [k for k in weights if not k.endswith(".bias")]
    out = _forward(weights, names, masks, x)
    return float(100.0 * np.mean(np.argmax(out, axis=1) == np.asarray(y)))


def hw_prune_network(weights: dict[str, np.ndarray], densities: dict[str, float], x: np.ndarray,
                     cfg: ArchConfig, *, val: tuple[np.ndarray, np.ndarray] | None = None,
                     max_drop: float | None = None, **kwargs) -> dict[str, HwPruneResult]:
    """:func:`hw_prune_layer` for a chain of fully-connected layers (``weights`` in order:
    ``"NAME"`` (outputs x inputs) and optional ``"NAME.bias"``), layer by layer; each
    layer's sample inputs are the previous layers' (pruned) ReLU outputs on ``x``.
    ``densities``: per layer name (a layer left out is not pruned, only passed through).
    ``val=(x, labels)`` with ``max_drop`` (percentage points): a step is kept only if the
    chain's accuracy on ``val`` (:func:`accuracy`, the layers pruned so far masked) stays
    within ``max_drop`` of its accuracy with the layer's start mask."""
    names = [k for k in weights if not k.endswith(".bias")]
    unknown = sorted(set(densities) - set(names))
    if unknown:
        raise WorkloadError(f"densities for unknown layer(s) {unknown}; layers: {', '.join(names)}")
    bad = [n for n in names if np.ndim(weights[n]) != 2]
    if bad:
        raise WorkloadError(f"layer(s) {bad}: only chains of fully-connected (2-D) layers are "
                            f"pruned here")
    if (max_drop is None) != (val is None):
        raise WorkloadError("an accuracy constraint needs both validation data and max_drop")
    out: dict[str, HwPruneResult] = {}
    masks: dict[str, np.ndarray] = {}
    for name in names:
        if name not in densities:
            continue
        h = _forward(weights, names, masks, x, stop=name)
        accept = None
        if val is not None:
            w = np.asarray(weights[name], np.float64)
            m0 = start_mask(w, densities[name], int(cfg.pes), kwargs.get("start", "magnitude"))
            acc0 = accuracy(weights, {**masks, name: m0}, *val)
            floor = acc0 - float(max_drop)

            def accept(m, name=name, floor=floor):
                acc = accuracy(weights, {**masks, name: m}, *val)
                return acc >= floor, {"accuracy": acc}
        out[name] = hw_prune_layer(weights[name], densities[name], h, cfg,
                                   bias=weights.get(f"{name}.bias"), name=name, accept=accept,
                                   **kwargs)
        if val is not None:
            out[name].trajectory[0]["accuracy"] = acc0
            out[name].record.update(max_accuracy_drop=float(max_drop), accuracy_floor=floor,
                                    accuracy=accuracy(weights, {**masks, name: out[name].mask}, *val))
        masks[name] = out[name].mask
    return out
