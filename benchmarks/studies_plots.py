"""Plots of :mod:`benchmarks.bench_studies` (matplotlib, Agg): one PNG per study."""
from __future__ import annotations

import pathlib
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TITLES = {"lenet300": "LeNet-300-100", "lenet5": "LeNet-5"}
INIT_STYLE = {"linear": ("tab:blue", "o"), "density": ("tab:orange", "s"), "random": ("tab:green", "^")}


def _save(fig, path: pathlib.Path) -> pathlib.Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sensitivity(res: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """Accuracy vs fraction of one layer pruned; solid: retrained, dashed: not (NIPS 2015 style)."""
    models = list(res)
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.2), squeeze=False)
    for ax, m in zip(axes[0], models):
        rows = res[m]["sensitivity"]
        for i, layer in enumerate(dict.fromkeys(r["layer"] for r in rows)):
            mine = [r for r in rows if r["layer"] == layer]
            f = [100 * r["fraction_pruned"] for r in mine]
            c = f"C{i}"
            ax.plot(f, [r["accuracy"] for r in mine], "--", color=c, marker=".",
                    label=f"{layer} (no retraining)")
            if "accuracy_retrained" in mine[0]:
                ax.plot(f, [r["accuracy_retrained"] for r in mine], "-", color=c, marker="o",
                        label=f"{layer} (retrained)")
        ax.set_xlabel("parameters pruned away in one layer (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{TITLES[m]}: pruning sensitivity per layer ({res[m]['data_note']})",
                     fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def bits(res: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """Accuracy vs weight bits per layer type, dense (dashed) and pruned (solid): Fig. 7 style."""
    models = list(res)
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.2), squeeze=False)
    for ax, m in zip(axes[0], models):
        rows = res[m]["bits"]
        for kind, color in (("conv", "tab:red"), ("fc", "tab:blue")):
            for pruned, style in ((False, "--"), (True, "-")):
                mine = [r for r in rows if r["kind"] == kind and r["pruned"] == pruned]
                if mine:
                    ax.plot([r["bits"] for r in mine], [r["accuracy"] for r in mine], style,
                            color=color, marker="o" if pruned else ".",
                            label=f"{kind} layers, {'pruned' if pruned else 'not pruned'}")
        ax.set_xlabel("weight bits (k-means, no fine-tuning)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{TITLES[m]}: accuracy vs bits per layer type", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def inits(res: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """Accuracy vs bits of each centroid initialisation (Fig. 8 style)."""
    models = list(res)
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.2), squeeze=False)
    for ax, m in zip(axes[0], models):
        rows = res[m]["init"]
        for init, (color, marker) in INIT_STYLE.items():
            mine = [r for r in rows if r["init"] == init]
            ax.plot([r["bits"] for r in mine], [r["accuracy"] for r in mine], color=color,
                    marker=marker, label=init)
        ax.set_xlabel("weight bits, every layer (pruned network, k-means only)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{TITLES[m]}: centroid initialisation", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def centroids(dist: dict[str, Any], title: str, path: pathlib.Path) -> pathlib.Path:
    """Fig. 4 style: the layer's weight histogram with each method's initial centroids (top
    marks) and the centroids k-means ends at (bottom marks)."""
    fig, ax = plt.subplots(figsize=(9, 5.2))
    w = dist["weights"]
    counts, _, _ = ax.hist(w, bins=120, color="0.75", label=f"weights ({w.size} non-zero)")
    top = max(counts) if len(counts) else 1.0
    for i, (init, d) in enumerate(dist["inits"].items()):
        color, marker = INIT_STYLE[init]
        y0 = top * (1.05 + 0.07 * i)
        ax.plot(d["initial"], [y0] * len(d["initial"]), marker, color=color, mfc="none", ls="",
                label=f"{init}: initial")
        ax.plot(d["final"], [-top * (0.06 + 0.06 * i)] * len(d["final"]), marker, color=color,
                ls="", label=f"{init}: after k-means ({d['iterations']} it.)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("weight value")
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    return _save(fig, path)


def fixed_point(res: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """EIE Fig. 10 style: accuracy per arithmetic precision, both LeNets."""
    models = [m for m in res if res[m].get("fixed_point")]
    fig, ax = plt.subplots(figsize=(7, 4))
    names = [r["precision"] for r in res[models[0]]["fixed_point"]]
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        accs = [r["accuracy"] for r in res[m]["fixed_point"]]
        xs = [j + i * width for j in range(len(names))]
        bars = ax.bar(xs, accs, width, label=TITLES[m])
        for b, a in zip(bars, accs):
            ax.text(b.get_x() + b.get_width() / 2, a + 0.5, f"{a:.1f}", ha="center", fontsize=7)
    ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(names))], names)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Accuracy with EIE arithmetic per precision (compressed LeNets)", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)
