"""Utilisation over time: plots of ``windows.csv`` (docs/timeline.md), PNG and SVG.

Per layer:

* ``timeline_heatmap_<layer>``: PE x time heatmap of the busy share per window
  (busy cycles / window cycles);
* ``timeline_queue_<layer>``: queue occupancy over time: the mean over PEs of each PE's
  mean occupancy in the window, the largest occupancy of any PE (drawn over the queue
  depth's wide grey line, never hidden by it), and the band between the smallest and the
  largest per-PE mean;
* ``timeline_ccu_<layer>``: what the CCU does in each window (broadcast, stall, row move,
  batch load, store, idle), stacked, as shares of the window.

Over the layers: ``timeline_breakdown`` (per layer, where the PE cycles and the CCU cycles
go) and, with more than one layer, ``timeline_all_heatmap`` / ``_queue`` / ``_ccu``: the
same three with the layers end to end (a network's layers in order), layer boundaries
marked. ``<layer>`` is the layer name's file part and titles show it literally
(:func:`eie_sim.output.names.safe_names`). matplotlib is imported when a plot is drawn (it
is slow to import).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from eie_sim.output.names import plot_text, safe_names
from eie_sim.output.windows import LayerWindows

PE_CLASSES = (("busy", "tab:green"), ("padding", "tab:orange"), ("empty", "tab:gray"),
              ("starved", "tab:red"))
CCU_CLASSES = (("broadcasts", "broadcast", "tab:blue"), ("stall_cycles", "stall", "tab:red"),
               ("row_moves", "row move", "tab:purple"), ("load_cycles", "batch load", "tab:brown"),
               ("store_cycles", "store", "tab:olive"), ("idle_cycles", "idle", "0.85"))


@dataclass
class Plot:
    """One figure in one or more formats."""

    stem: str                    #: file name without the extension
    caption: str
    data: dict[str, bytes] = field(default_factory=dict)   #: format -> file contents


def _plt():
    # matplotlib is imported on first use: it is slow to import and only plots need it
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, formats=("png", "svg")) -> dict[str, bytes]:
    """The figure in each format (SVG: text as text, fixed ids), then closed."""
    plt = _plt()
    out = {}
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "eie-sim"}):
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight",
                        metadata={"Date": None} if fmt == "svg" else None)
            out[fmt] = buf.getvalue()
    plt.close(fig)
    return out


@dataclass
class _Joined:
    """Layers end to end: window edges in cycles, per-window arrays, layer boundaries."""

    edges: np.ndarray
    widths: np.ndarray
    pe: dict
    ccu: dict
    bounds: list            #: (first cycle, name) of every layer


def _join(layers: list[LayerWindows]) -> _Joined:
    starts, bounds, off = [], [], 0
    for L in layers:
        starts.append(off + L.first)
        bounds.append((off, L.layer))
        off += L.total_cycles
    left = np.concatenate(starts).astype(float)
    widths = np.concatenate([L.cycles for L in layers]).astype(float)
    return _Joined(np.r_[left, off], widths,
                   {f: np.concatenate([L.pe[f] for L in layers]) for f in layers[0].pe},
                   {f: np.concatenate([L.ccu[f] for L in layers]) for f in layers[0].ccu}, bounds)


def _mark_layers(ax, j: _Joined) -> None:
    if len(j.bounds) < 2:
        return
    import matplotlib.transforms as mtrans
    tr = mtrans.blended_transform_factory(ax.transData, ax.transAxes)
    for x, name in j.bounds:
        if x:
            ax.axvline(x, color="k", lw=0.8, ls="--")
        ax.text(x, 1.01, f" {plot_text(name)}", transform=tr, fontsize=7, rotation=30, ha="left", va="bottom")


def _title(ax, text: str, synthetic: bool, j: _Joined) -> None:
    ax.set_title(text + (" (synthetic matrices)" if synthetic else ""), fontsize=10,
                 pad=28 if len(j.bounds) > 1 else 6)


def heatmap(layers: list[LayerWindows], title: str, synthetic: bool = False):
    plt = _plt()
    j = _join(layers)
    share = j.pe["busy"] / j.widths[:, None]
    n_pe = share.shape[1]
    fig, ax = plt.subplots(figsize=(9.0, max(3.0, min(8.0, 1.5 + n_pe * 0.06))))
    mesh = ax.pcolormesh(j.edges, np.arange(n_pe + 1) - 0.5, share.T, vmin=0.0, vmax=1.0,
                         cmap="viridis", shading="flat", rasterized=True)
    fig.colorbar(mesh, ax=ax, label="busy share of the window")
    ax.set_xlabel("cycle")
    ax.set_ylabel("PE")
    ax.set_ylim(n_pe - 0.5, -0.5)
    _mark_layers(ax, j)
    _title(ax, title, synthetic, j)
    return fig


def queue_plot(layers: list[LayerWindows], title: str, synthetic: bool = False,
               queue_depth: int | None = None):
    plt = _plt()
    j = _join(layers)
    qm, qx = j.pe["queue_mean"], j.pe["queue_max"]
    fig, ax = plt.subplots(figsize=(9.0, 3.6))
    ax.stairs(qm.max(axis=1), j.edges, baseline=qm.min(axis=1), fill=True, color="tab:blue",
              alpha=0.25, label="per-PE mean: min .. max over PEs")
    ax.stairs(qm.mean(axis=1), j.edges, baseline=None, color="tab:blue", lw=1.5,
              label="mean over PEs")
    if queue_depth:      # under the max line (a full queue's max lies on it), wider, grey
        ax.axhline(queue_depth, color="0.55", lw=3.0, alpha=0.5, zorder=1,
                   label=f"queue depth {queue_depth}")
    ax.stairs(qx.max(axis=1), j.edges, baseline=None, color="tab:red", lw=1.2, zorder=3,
              label="max (any PE, any cycle)")
    ax.set_xlabel("cycle")
    ax.set_ylabel("queue occupancy (entries)")
    top = max(float(qx.max()) if qx.size else 0.0, float(queue_depth or 0))
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)   # neither line on the frame
    ax.set_xlim(j.edges[0], j.edges[-1])
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    _mark_layers(ax, j)
    _title(ax, title, synthetic, j)
    return fig


def ccu_plot(layers: list[LayerWindows], title: str, synthetic: bool = False):
    plt = _plt()
    j = _join(layers)
    fig, ax = plt.subplots(figsize=(9.0, 3.6))
    bottom = np.zeros(j.widths.size)
    for key, label, colour in CCU_CLASSES:
        top = bottom + j.ccu[key] / j.widths
        ax.stairs(top, j.edges, baseline=bottom, fill=True, color=colour, label=label)
        bottom = top
    ax.set_xlabel("cycle")
    ax.set_ylabel("share of the window's cycles")
    ax.set_ylim(0, 1)
    ax.set_xlim(j.edges[0], j.edges[-1])
    ax.legend(fontsize=7, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    _mark_layers(ax, j)
    _title(ax, title, synthetic, j)
    return fig


def breakdown_plot(layers: list[LayerWindows], synthetic: bool = False):
    """Per layer: the PE cycles (busy, padding, empty, starved; share of N x cycles) and
    the CCU cycles (share of cycles)."""
    plt = _plt()
    names = [plot_text(L.layer) for L in layers]
    y = np.arange(len(layers))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.0, 2.2 + 0.35 * len(layers)), sharey=True,
                                 layout="constrained")
    left = np.zeros(len(layers))
    for key, colour in PE_CLASSES:
        v = np.array([L.pe[key].sum() / (L.total_cycles * L.n_pe) for L in layers])
        a1.barh(y, v, left=left, color=colour, label=key)
        left += v
    left = np.zeros(len(layers))
    for key, label, colour in CCU_CLASSES:
        v = np.array([L.ccu[key].sum() / L.total_cycles for L in layers])
        a2.barh(y, v, left=left, color=colour, label=label)
        left += v
    a1.set_yticks(y, names, fontsize=8)
    a1.invert_yaxis()
    for ax, t, where in ((a1, "PE cycles (share of PEs x cycles)", "outside lower left"),
                         (a2, "CCU cycles (share of cycles)", "outside lower right")):
        ax.set_xlim(0, 1)
        ax.set_title(t, fontsize=9)
        fig.legend(*ax.get_legend_handles_labels(), fontsize=7, ncol=3, loc=where)
    fig.suptitle("Where the cycles go, per layer" + (" (synthetic matrices)" if synthetic else ""),
                 fontsize=10)
    return fig


def timeline_plots(layers: list[LayerWindows], formats=("png", "svg"), synthetic: bool = False,
                   network: bool = False, queue_depth: int | None = None) -> list[Plot]:
    """Every timeline plot of the layers of a ``windows.csv``, in each format."""
    plots = []
    safe = safe_names(L.layer for L in layers)
    for L in layers:
        s, t = safe[L.layer].file, safe[L.layer].title
        plots += [
            Plot(f"timeline_heatmap_{s}", f"Layer {L.layer}: busy share per PE and window",
                 save(heatmap([L], f"Busy share per PE over time, layer {t}", synthetic), formats)),
            Plot(f"timeline_queue_{s}", f"Layer {L.layer}: queue occupancy over time",
                 save(queue_plot([L], f"Activation queue occupancy over time, layer {t}",
                                 synthetic, queue_depth), formats)),
            Plot(f"timeline_ccu_{s}", f"Layer {L.layer}: what the CCU does in each window",
                 save(ccu_plot([L], f"CCU over time, layer {t}", synthetic), formats)),
        ]
    if layers:
        plots.append(Plot("timeline_breakdown", "Where the cycles go, per layer",
                          save(breakdown_plot(layers, synthetic), formats)))
    if len(layers) > 1:
        what = "the network's layers in order" if network else "the layers one after the other"
        plots += [
            Plot("timeline_all_heatmap", f"Busy share per PE over time, {what}",
                 save(heatmap(layers, f"Busy share per PE over time, {what}", synthetic), formats)),
            Plot("timeline_all_queue", f"Queue occupancy over time, {what}",
                 save(queue_plot(layers, f"Queue occupancy over time, {what}", synthetic,
                                 queue_depth), formats)),
            Plot("timeline_all_ccu", f"CCU over time, {what}",
                 save(ccu_plot(layers, f"CCU over time, {what}", synthetic), formats)),
        ]
    return plots
