"""Honest design points: whether a point's layers fit the per-PE SRAMs, and what follows.

Used by the sweeps (``eie-sweep``: :mod:`eie_sim.apps.sweep_points`; ``eie_sim.sweep``)
and their exports, tables and plots.

Every point carries ``fits`` (its layers' memory images fit the Spmat SRAM, the pointer
SRAM and width, and the activation SRAM of paper sec. IV: :class:`eie_sim.hw.layout.SramNeed`)
and what one PE would need (``needed_*`` columns: the largest over the point's layers,
whole KB). A point that does not fit is, by ``run.check_fit`` and ``run.unfit_points``
(docs/config.md):

* ``check_fit: true``: refused (a failed point, its ``error`` the refusal; ``fit_handling``
  ``refused``; ``failed`` when it failed for another reason);
* ``check_fit: false, unfit_points: exclude`` (the default): simulated and priced with
  the configured SRAMs, but marked ``fit_handling = excluded`` in every table and left out
  of Pareto fronts and of a search's objectives (a design that cannot hold its layers is
  no candidate, however cheap its too-small SRAMs look);
* ``check_fit: false, unfit_points: resize``: its energy and area priced with the SRAMs it
  would need (``priced_*`` columns, ``fit_handling = resized``); the timing does not depend
  on the capacities, so its cycles are those of the swept point. It stays on the fronts.

The column names of this module are written here once (:data:`FIT_COLUMNS`,
:data:`NEEDED`, :data:`PRICED`).
"""
from __future__ import annotations

from typing import Any

from eie_sim.arch.config import ArchConfig, ConfigError
from eie_sim.errors import FixedPointRangeError, LayoutError, WorkloadError
from eie_sim.workloads.chips import chip_workloads
from eie_sim.hw.layout import SramNeed, check_layer_fits, sram_need

#: what makes one design point fail without stopping a sweep (``eie-sweep`` and
#: ``eie_sim.sweep`` record it in the point's ``error`` and go on)
POINT_ERRORS = (LayoutError, FixedPointRangeError, WorkloadError, ConfigError)

#: the SRAM figures a point's need and pricing are stated in (ArchConfig keys)
SRAM_KEYS = ("spmat_sram_kb", "pointer_bits", "pointer_sram_kb", "act_sram_kb")
#: figures: what one PE would need (the largest over the point's layers)
NEEDED = tuple(f"needed_{k}" for k in SRAM_KEYS)
#: figures: the SRAMs the point's energy and area were priced with
PRICED = tuple(f"priced_{k}" for k in SRAM_KEYS)
#: the columns after a point's swept keys in points.csv, pareto.csv and sweep.csv
FIT_COLUMNS = ("fits", "fit_handling")
#: ``fit_handling`` values (``""``: the point fits)
REFUSED, EXCLUDED, RESIZED, FAILED = "refused", "excluded", "resized", "failed"
HANDLING_TEXT = {
    "": "fits the SRAMs",
    REFUSED: "does not fit the SRAMs: refused (run.check_fit: true), a failed point",
    EXCLUDED: "does not fit the SRAMs: simulated and priced with the configured SRAMs, left "
              "out of Pareto fronts and the search (run.unfit_points: exclude)",
    RESIZED: "does not fit the SRAMs: energy and area priced with the SRAMs it would need "
             "(priced_* columns; run.unfit_points: resize)",
    FAILED: "does not fit the SRAMs, and failed for another reason (its error says which)",
}


def _on_chips(layers, cfg: ArchConfig) -> list:
    """The layers as each chip holds them: with ``chips`` > 1 every chip's row block
    (:func:`eie_sim.workloads.chips.chip_workloads`, docs/llm.md "Multi-chip EIE")."""
    if cfg.chips <= 1:
        return list(layers)
    return [part for lay in layers for part in chip_workloads(lay, cfg.chips)]


def point_need(layers, cfg: ArchConfig) -> SramNeed:
    """The largest need over ``layers`` (:class:`~eie_sim.workloads.layer.LayerWorkload`)
    laid out on ``cfg``, per chip (layouts are cached per layout key: the simulation
    reuses them)."""
    return SramNeed.most([sram_need(lay.layout(cfg, check_fit=False), cfg)
                          for lay in _on_chips(layers, cfg)])


def refuse(layers, cfg: ArchConfig) -> None:
    """Raise the :class:`~eie_sim.errors.LayoutError` of the first layer (of a chip) that
    does not fit (the message ``run.check_fit: true`` records)."""
    for lay in _on_chips(layers, cfg):
        check_layer_fits(lay.layout(cfg, check_fit=False), cfg)


def priced_config(need: SramNeed, cfg: ArchConfig, unfit_points: str) -> ArchConfig:
    """The configuration a point is priced with: ``cfg``, or with ``resize`` and a point
    that does not fit, ``cfg`` with the SRAMs it needs (:meth:`SramNeed.sized`)."""
    if need.fits(cfg) or unfit_points != "resize":
        return cfg
    return cfg.replace(**need.sized(cfg))


def fit_figures(need: SramNeed, priced: ArchConfig | None) -> dict[str, Any]:
    """The ``needed_*`` figures and (``priced``: the point ran) the ``priced_*`` ones."""
    out: dict[str, Any] = {f"needed_{k}": getattr(need, k) for k in SRAM_KEYS}
    if priced is not None:
        out.update({f"priced_{k}": getattr(priced, k) for k in SRAM_KEYS})
    return out


def _refusal(error: str) -> bool:
    """``error`` is the SRAM refusal of :func:`~eie_sim.hw.layout.check_layer_fits`."""
    return error.startswith("LayoutError: layer ") and " does not fit " in error


def handling(fits: bool | None, error: str, check_fit: bool, unfit_points: str) -> str:
    """A point's ``fit_handling`` (module docstring) from what was recorded; for a point
    of an older version (``fits`` None) what its record implies, ``unknown`` where it
    implies nothing."""
    fits = known_fits(fits, error, check_fit)
    if fits is None:
        return "unknown"
    if fits:
        return ""
    if error:
        return REFUSED if _refusal(error) else FAILED
    return RESIZED if unfit_points == "resize" else EXCLUDED


def known_fits(fits: bool | None, error: str, check_fit: bool) -> bool | None:
    """``fits`` where recorded; for a point of an older version: True when the sweep
    checked the fit and the point ran (it would have been refused otherwise), False when
    its error is the SRAM refusal, else None (not known)."""
    if fits is not None:
        return fits
    if check_fit and not error:
        return True
    return False if _refusal(error) else None


def ranked(fits: bool | None, error: str, check_fit: bool, unfit_points: str) -> bool:
    """Whether a point takes part in Pareto fronts and search objectives: it ran, and it
    fits or was priced with the SRAMs it needs."""
    if error:
        return False
    f = known_fits(fits, error, check_fit)
    return f is True or (f is False and unfit_points == "resize")


def row_ranked(row: dict) -> bool:
    """:func:`ranked` of an exported row (``error`` and ``fit_handling`` columns)."""
    return not row.get("error") and row.get("fit_handling", "") in ("", RESIZED)


def _number(v):
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _why_not(row: dict) -> str:
    """Why an exported point row does not rank, in a few words."""
    h = row.get("fit_handling", "")
    if h == REFUSED:
        return "does not fit the SRAMs (refused, run.check_fit: true)"
    if h == EXCLUDED:
        return "does not fit the SRAMs (excluded, run.unfit_points: exclude)"
    if row.get("error"):
        return "failed (" + str(row["error"]).split(":", 1)[0] + ")"
    return "fit not known (recorded by an older version)"


def baseline(rows: list[dict], key: str) -> dict[str, Any] | None:
    """Where a figure relative to the smallest value of the numeric swept ``key`` starts
    (e.g. "speedup over N PEs"): the smallest value at which some point ran and fits (or was
    priced with the SRAMs it needs), and why each smaller value does not count (its points
    failed, or do not fit the SRAMs). ``rows``: exported rows (``key``, ``error``,
    ``fit_handling``; several rows of one ``point`` count once). Returns ``value``, ``why``
    (every smaller value and its reason) and ``short`` (the smaller values by reason, for a
    plot); None for a key with one value or non-numeric values."""
    vals = sorted({_number(r.get(key)) for r in rows} - {None})
    if len(vals) < 2 or any(_number(r.get(key)) is None for r in rows):
        return None
    ok = [_number(r[key]) for r in rows if row_ranked(r)]
    if not ok:
        return {"value": None, "why": f"no point of any {key} ran and fits the SRAMs",
                "short": "no point ran and fits the SRAMs"}
    first = min(ok)
    skipped, by_reason = [], {}
    for v in vals:
        if v >= first:
            break
        at = [r for r in rows if _number(r.get(key)) == v]
        n = len({r.get("point", i) for i, r in enumerate(at)})
        why = "; ".join(sorted({_why_not(r) for r in at}))
        skipped.append(f"{key} = {v:g}: {why} ({n} point(s))")
        by_reason.setdefault(why.split(" (", 1)[0], []).append(f"{v:g}")
    shown = int(first) if float(first).is_integer() else first
    text = (f"the smallest {key} that ran and fits the SRAMs is {shown}"
            + ("; " + ", ".join(skipped) if skipped else " (the smallest swept)"))
    short = "; ".join(f"{key} {', '.join(vs)}: {why}" for why, vs in by_reason.items())
    return {"value": shown, "why": text, "short": short}
