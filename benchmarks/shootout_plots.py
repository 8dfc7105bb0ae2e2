"""Plots of the sparse-format shoot-out (:mod:`benchmarks.bench_shootout`), matplotlib Agg:

* ``bits_vs_cycles.png``: bits per non-zero weight against cycles, one panel per network
  (network totals), colour = encoding, marker = pruning rule;
* ``load_efficiency.png``: load efficiency per pruning rule (reference encoding), one bar
  group per network and PE count;
* ``analytical_error.png``: the analytical model's cycle error against per-PE skew, queue
  depth and rows per PE (every layer and design point): where the model fails.
"""
from __future__ import annotations

import pathlib

import numpy as np

MARKERS = "osD^vP*X"


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def bits_vs_cycles(net_rows: list[dict], path: pathlib.Path) -> None:
    plt = _plt()
    nets = list(dict.fromkeys(r["network"] for r in net_rows))
    encs = list(dict.fromkeys(r["encoding"] for r in net_rows))
    rules = list(dict.fromkeys(r["rule"] for r in net_rows))
    colors = {e: plt.cm.tab10(i) for i, e in enumerate(encs)}
    fig, axes = plt.subplots(1, len(nets), figsize=(4.2 * len(nets), 3.8), squeeze=False)
    for ax, net in zip(axes[0], nets):
        for r in (r for r in net_rows if r["network"] == net):
            ax.scatter(r["bits_per_nnz"], r["cycles"], color=colors[r["encoding"]],
                       marker=MARKERS[rules.index(r["rule"]) % len(MARKERS)], s=22, alpha=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("stored bits per non-zero weight")
        ax.set_title(net, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("cycles (sum over layers)")
    handles = [plt.Line2D([], [], color=colors[e], marker="o", ls="", label=e) for e in encs]
    handles += [plt.Line2D([], [], color="gray", marker=MARKERS[i % len(MARKERS)], ls="", label=r)
                for i, r in enumerate(rules)]
    fig.legend(handles=handles, loc="lower center", ncol=min(8, len(handles)), fontsize=8,
               bbox_to_anchor=(0.5, -0.08))
    fig.suptitle("encoding x pruning: bits per weight vs cycles (every density and PE count)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def load_efficiency(net_rows: list[dict], encoding: str, path: pathlib.Path) -> None:
    plt = _plt()
    rows = [r for r in net_rows if r["encoding"] == encoding]
    groups = list(dict.fromkeys((r["network"], r["pes"]) for r in rows))
    rules = list(dict.fromkeys(r["rule"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.4 * len(groups)), 3.8))
    width = 0.8 / max(1, len(rules))
    for i, rule in enumerate(rules):
        vals = [np.mean([r["load_efficiency"] for r in rows if (r["network"], r["pes"]) == g
                         and r["rule"] == rule] or [np.nan]) for g in groups]
        ax.bar(np.arange(len(groups)) + i * width, vals, width, label=rule)
    ax.set_xticks(np.arange(len(groups)) + width * (len(rules) - 1) / 2,
                  [f"{n}\n{p} PEs" for n, p in groups], fontsize=8)
    ax.set_ylabel(f"load efficiency ({encoding}; mean over densities)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncol=len(rules), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    ax.set_title("load efficiency per pruning rule (1 - starved / (N T))", pad=28)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def analytical_error(errs: list[dict], path: pathlib.Path) -> None:
    plt = _plt()
    from matplotlib.ticker import NullFormatter
    e = np.array([r["error_pct"] for r in errs])
    q = np.array([r["queue_depth"] for r in errs])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    depths = sorted(set(q.tolist()))
    cmap = plt.cm.viridis
    for ax, key, label, logx in ((axes[0], "skew", "skew: most loaded PE's entries / mean", True),
                                 (axes[1], "queue_depth", "activation queue depth", True),
                                 (axes[2], "rows_per_pe", "rows per PE", True)):
        x = np.array([r[key] for r in errs], dtype=float)
        jitter = 1.0 + 0.06 * (np.random.default_rng(0).random(x.size) - 0.5) if key == "queue_depth" else 1.0
        sc = ax.scatter(x * jitter, e, c=[depths.index(v) for v in q], cmap=cmap, s=14, alpha=0.75,
                        vmin=0, vmax=max(1, len(depths) - 1))
        if logx:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        if key == "skew":
            ticks = [t for t in (1, 1.5, 2, 4, 8, 16) if t <= max(1.5, x.max() * 1.1)]
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        if key == "queue_depth":
            ax.set_xticks(depths, [str(d) for d in depths])
            ax.minorticks_off()
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("analytical - cycle-exact cycles (%)")
    cb = fig.colorbar(sc, ax=axes, ticks=range(len(depths)))
    cb.ax.set_yticklabels([str(d) for d in depths])
    cb.set_label("queue depth")
    fig.suptitle("analytical model vs cycle-exact engine on the shoot-out layers (csc-i4)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_all(result: dict, out: pathlib.Path) -> list[pathlib.Path]:
    """The three plots into ``out`` (those with data); returns their paths."""
    paths = []
    if result["network_rows"]:
        paths.append(out / "bits_vs_cycles.png")
        bits_vs_cycles(result["network_rows"], paths[-1])
        enc = "csc-i4" if "csc-i4" in result["encodings"] else result["encodings"][0]
        paths.append(out / "load_efficiency.png")
        load_efficiency(result["network_rows"], enc, paths[-1])
    if result["errors"]:
        paths.append(out / "analytical_error.png")
        analytical_error(result["errors"], paths[-1])
    return paths
