"""The canvas of the sweep figures (:mod:`eie_sim.output.sweep_figures`): figures of
panels laid out in inches with room for one legend on their right, text wrapped to a
figure's width, a colour per value of the colour key, and PNG bytes at most
:data:`MAX_PX` pixels a side. matplotlib is imported when a figure is drawn (it is slow
to import).
"""
from __future__ import annotations

import io
import math
import textwrap

from eie_sim.output.sweep_table import KeyAxis, num

MAX_PX = 2000        #: the largest side of any PNG written
PANEL_IN = (3.0, 2.2)  #: one panel (inches)
LEFT_IN, BOTTOM_IN, LEGEND_IN = 1.0, 0.65, 2.3   #: margins (inches)
GAP_IN = (0.35, 0.55)  #: between panels (inches): across, down


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def png(fig, dpi: float = 110) -> bytes:
    """The figure as PNG, at most :data:`MAX_PX` pixels a side (the resolution lowered
    when needed: first from the figure's size, then, should the tight box still exceed
    it, from the image written), then closed. A figure of :func:`panels` (laid out in
    inches, ``fig._eie_laid_out``) is saved whole, without the tight box's extra
    drawing pass."""
    plt = _plt()
    dpi = min(dpi, (MAX_PX - 4) / (max(fig.get_size_inches()) + 0.2))
    tight = {} if getattr(fig, "_eie_laid_out", False) else {"bbox_inches": "tight",
                                                              "pad_inches": 0.1}
    for _ in range(3):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, **tight)
        data = buf.getvalue()
        side = max(png_size(data))
        if side <= MAX_PX:
            break
        dpi *= (MAX_PX - 4) / side
    plt.close(fig)
    return data


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of PNG bytes (from the IHDR chunk)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def panels(nrows: int, ncols: int, title: str, sharex=True, sharey=True,
           height_ratios=None, legend_in: float = LEGEND_IN):
    """A figure of ``nrows`` x ``ncols`` panels laid out in inches (no layout engine:
    it is slow), ``title`` above them and room for a legend on the right."""
    plt = _plt()
    top = 0.4 + 0.18 * (title.count("\n") + 1)
    hr = list(height_ratios or [1] * nrows)
    pw, ph = PANEL_IN
    w = LEFT_IN + ncols * pw + (ncols - 1) * GAP_IN[0] + legend_in
    h = BOTTOM_IN + sum(hr) / max(hr) * ph + (nrows - 1) * GAP_IN[1] + top
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False, sharex=sharex,
                             sharey=sharey, gridspec_kw={"height_ratios": hr})
    fig.subplots_adjust(left=LEFT_IN / w, right=(w - legend_in) / w, bottom=BOTTOM_IN / h,
                        top=(h - top) / h, wspace=GAP_IN[0] / pw, hspace=GAP_IN[1] / ph)
    fig.suptitle(title, fontsize=9, y=(h - 0.1) / h, va="top")
    fig._eie_laid_out = True
    return fig, axes


def legend(fig, handles: list, labels: list[str], title: str | None = None) -> None:
    """The figure's one legend, right of the panels (never over them)."""
    right = fig.subplotpars.right
    fig.legend(handles, [wrap(lab, 2.0, 7) for lab in labels], fontsize=7, title=title,
               title_fontsize=7, loc="upper left", bbox_to_anchor=(right + 0.01, fig.subplotpars.top))


def wrap(text: str, width_in: float, fontsize: float = 9) -> str:
    """``text`` wrapped to a figure ``width_in`` inches wide."""
    chars = max(30, int(width_in * 130 / fontsize))
    return "\n".join(textwrap.fill(part, chars) for part in text.split("\n"))


def _log_values(vals: list[float]) -> bool:
    pos = [v for v in vals if v is not None]
    return bool(pos) and min(pos) > 0 and max(pos) / min(pos) >= 10


def _colours(axis: KeyAxis | None, values: list[str]) -> dict[str, object]:
    """A colour per value of the colour key: a sequential map for a numeric key
    (logarithmic where its values span a decade), distinct colours otherwise."""
    plt = _plt()
    if axis is None:
        return {v: "tab:blue" for v in values}
    if axis.numeric and len(values) > 1:
        xs = [num(v) for v in values]
        if _log_values(xs):
            lo, hi = math.log(min(xs)), math.log(max(xs))
            pos = [(math.log(x) - lo) / (hi - lo) for x in xs]
        else:
            lo, hi = min(xs), max(xs)
            pos = [(x - lo) / (hi - lo) if hi > lo else 0.0 for x in xs]
        cmap = plt.get_cmap("viridis")
        return {v: cmap(0.9 * p) for v, p in zip(values, pos)}
    cmap = plt.get_cmap("tab10")
    return {v: cmap(i % 10) for i, v in enumerate(values)}
