"""Per-layer plots of a network's run on EIE (:class:`eie_sim.sim.results.NetRun`).

One figure per run (PNG): top, each parameter layer's cycles for one image (extrapolated
when sampled) stacked by what the PEs did, averaged over the PEs: busy (real entries),
padding (filler entries), empty (columns with no entry in that PE) and starved (waiting
for activations, and the batch store / pass reload cycles); the four sum to the layer's
cycles (docs/timing.md "Per-PE cycle accounting"). Bottom, per layer, the load
efficiency ``1 - starved / (N T)`` (paper Fig. 8/13) and the PE utilisation
``busy / (N T)``. Titles say SYNTHETIC for synthetic weights (random, assumed densities).
"""
from __future__ import annotations

import io
import numpy as np

from eie_sim.output.names import plot_text
from eie_sim.sim.results import NetRun

CLASSES = (("busy", "#2c7fb8"), ("padding", "#fdae61"), ("empty", "#bdbdbd"), ("starved", "#d7191c"))


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def layer_cycle_classes(run: NetRun) -> dict[str, np.ndarray]:
    """Per layer, the mean-over-PEs cycles of each class for one image (layer totals)."""
    out = {k: [] for k, _ in CLASSES}
    for l in run.layers:
        for k, _ in CLASSES:
            out[k].append(l.extensive(float(getattr(l.pe, k).sum())) / l.pes)
    return {k: np.asarray(v) for k, v in out.items()}


def network_plot(run: NetRun, fmt: str = "png") -> bytes:
    """The two-panel figure described in the module docstring."""
    plt = _plt()
    names = [plot_text(l.name) for l in run.layers]
    x = np.arange(len(names))
    parts = layer_cycle_classes(run)
    width = max(8.0, 0.14 * len(names) + 3)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(width, 7.5), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 2]})
    bottom = np.zeros(len(names))
    for k, color in CLASSES:
        ax1.bar(x, parts[k], bottom=bottom, color=color, label=k, width=0.8)
        bottom += parts[k]
    ax1.set_ylabel("cycles per image (mean over PEs)")
    ax1.set_yscale("log" if bottom.max(initial=0) > 100 * max(1.0, np.median(bottom)) else "linear")
    ext = " (sampled positions, extrapolated)" if run.extrapolated else ""
    ax1.set_title(f"{'SYNTHETIC ' if run.synthetic else ''}{plot_text(run.name)} on EIE, {run.config.pes} PEs{ext}: cycles per layer",
                  fontsize=10)
    ax1.legend(fontsize=8, ncol=4)
    ax1.grid(True, axis="y", alpha=0.3)
    ax2.plot(x, [l.load_efficiency for l in run.layers], "o-", ms=3, label="load efficiency 1 - starved/(N T)")
    ax2.plot(x, [l.authors_efficiency for l in run.layers], "s-", ms=3, label="PE utilisation busy/(N T)")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("per layer")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    ax2.set_xticks(x)
    ax2.set_xticklabels(names, rotation=90, fontsize=6 if len(names) > 40 else 8)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
