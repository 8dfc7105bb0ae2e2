"""Search analytically, confirm the front cycle-exactly (``run.confirm_engine``,
docs/analytical.md "Confirming a front").

A sweep or search run with ``engine: analytical`` and ``confirm_engine: fast`` (or
``simpy``) re-runs, once every point is in, the points of its Pareto front (the front of
``pareto.csv``: the search's objectives, or latency/energy/area; points that do not fit
the SRAMs and are excluded are not on it) with the cycle-exact engine, and reports per
front point both figures and the error of the estimate, ``100 x (analytical - exact) /
exact`` per objective and for the cycles (``confirm.csv``), and whether the confirmed
front differs: a front point that another front point dominates under the cycle-exact
figures has left the front. (A point *off* the analytical front could join the exact
front; that would take running every point cycle-exactly, which the confirmation exists
to avoid: ``summary.json`` says so.)

**Database**: the confirmed figures go into the table ``confirm(point, engine, figures,
error, wall_s, digest)`` of ``sweep.db``, created when a sweep first confirms (an additive
table: the database's version stays 3, since a reader of version 3 ignores a table it does
not know, and a version-3 database without it is read as "nothing confirmed yet"). A
rerun (or a resumed search whose front moved) runs only the front points not confirmed
with that engine yet. Each row's digest (SHA-256 of its point, engine, figures and
error, as stored) is checked when it is read: an edited row is refused like an edited
point (:class:`~eie_sim.errors.BundleError`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Callable

from eie_sim.apps.sweep_points import PointResult, PointRun, SweepPoint, make_point
from eie_sim.apps.sweep_search import dominates, objective_values, pareto_front, run_front
from eie_sim.arch.sweep_spec import OBJECTIVES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS confirm (
    point INTEGER NOT NULL, engine TEXT NOT NULL, figures TEXT NOT NULL, error TEXT NOT NULL,
    wall_s REAL, digest TEXT NOT NULL, PRIMARY KEY (point, engine));
"""

#: the figures compared per front point besides the objectives
COMPARED = ("cycles",)


def _digest(point: int, engine: str, figures_t: str, error: str) -> str:
    h = hashlib.sha256()
    for part in (str(point), engine, figures_t, error):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def recorded(db, engine: str) -> dict[int, PointResult]:
    """The points confirmed with ``engine`` in ``db`` (a :class:`~eie_sim.apps.sweep_db.
    SweepDB`; none when the table does not exist), each digest checked."""
    with db._sql("reading the confirmed points"):
        if "confirm" not in db._tables():
            return {}
        out = {}
        for p, figs_t, err, wall, digest in db.con.execute(
                "SELECT point, figures, error, wall_s, digest FROM confirm WHERE engine = ? "
                "ORDER BY point", (engine,)):
            figs = json.loads(figs_t)
            if digest != _digest(p, engine, figs_t, err) or not isinstance(figs, dict):
                raise db._untrusted(f"confirmed point {p} ({engine}): its stored values are "
                                    f"not those recorded")
            out[p] = PointResult(p, {}, [], figs, err, wall)
        return out


def add(db, res: PointResult, engine: str) -> None:
    """Record one confirmed point (its figures and error) in one transaction."""
    figs_t = json.dumps(res.figures)
    with db._sql(f"recording the confirmation of point {res.index}"), db.transaction():
        db.con.execute(_SCHEMA)
        db.con.execute("INSERT OR REPLACE INTO confirm VALUES (?, ?, ?, ?, ?, ?)",
                       (res.index, engine, figs_t, res.error, res.wall_s,
                        _digest(res.index, engine, figs_t, res.error)))


RunPoints = Callable[..., None]


def confirm(loaded, db, points: list[PointResult], run_points: RunPoints,
            how: PointRun) -> tuple[list[dict], dict]:
    """Confirm the front of ``points`` with ``loaded.run.confirm_engine`` (module
    docstring): run the front points not confirmed yet through ``run_points(pts, size,
    on_result, how)`` and record them; returns the rows of ``confirm.csv`` and the facts
    of ``summary.json``'s ``confirm``."""
    engine = loaded.run.confirm_engine
    objectives, on_front = run_front(loaded, points)
    by_index = {p.index: p for p in points}
    done = recorded(db, engine)
    todo = [make_point(loaded.arch, i, by_index[i].params) for i in on_front if i not in done]
    exact_how = dataclasses.replace(how, options=how.options.replace(engine=engine, verify=False, check=True))

    def keep(pt: SweepPoint, res: PointResult) -> None:
        add(db, res, engine)
        done[res.index] = res
    if todo:
        run_points(todo, len(todo), keep, exact_how)
    rows, exact_values = [], {}
    for i in on_front:
        a, e = by_index[i], done[i]
        row = {"point": i, **a.params, "engine": loaded.run.engine, "confirm_engine": engine,
               "error": e.error}
        for key in [OBJECTIVES[o] for o in objectives] + list(COMPARED):
            va, ve = a.figures.get(key), e.figures.get(key)
            row[f"analytical_{key}"] = va
            row[f"exact_{key}"] = ve
            row[f"error_pct_{key}"] = (100.0 * (va - ve) / ve
                                       if isinstance(va, (int, float)) and ve else None)
        if not e.error:
            exact_values[i] = objective_values(e.figures, objectives)
        rows.append(row)
    kept = set(pareto_front(exact_values))
    for r in rows:
        r["on_exact_front"] = r["point"] in kept
    left = sorted(set(on_front) - kept)
    errs = [abs(r[f"error_pct_{k}"]) for r in rows
            for k in [OBJECTIVES[o] for o in objectives] + list(COMPARED)
            if r.get(f"error_pct_{k}") is not None]
    order_a = sorted(on_front, key=lambda i: objective_values(by_index[i].figures, objectives))
    order_e = sorted(exact_values, key=lambda i: exact_values[i])
    facts = {"engine": engine, "objectives": objectives, "front_points": on_front,
             "confirmed_now": len(todo), "failed": sorted(i for i in on_front if done[i].error),
             "front_differs": bool(left) or len(exact_values) < len(on_front),
             "left_front": left,
             "dominated_by": {str(i): [j for j in exact_values if j != i and
                                       dominates(exact_values[j], exact_values[i])] for i in left},
             "order_differs": order_a != order_e,
             "max_abs_error_pct": max(errs) if errs else None,
             "analytical_wall_s": sum(p.wall_s or 0.0 for p in points),
             "exact_wall_s_front": sum(done[i].wall_s or 0.0 for i in on_front),
             "note": "only the analytical front is re-run: a point off it could be on the "
                     "cycle-exact front, which only a full cycle-exact sweep would show"}
    return rows, facts


def markdown(rows: list[dict], facts: dict) -> str:
    """The report.md section of a confirmation."""
    lines = ["", f"## Front confirmed with the {facts['engine']} engine", "",
             f"{len(facts['front_points'])} front point(s); the confirmed front "
             f"{'differs' if facts['front_differs'] else 'is the same'}"
             + (f" (left it: {facts['left_front']})" if facts["left_front"] else "")
             + (f"; largest |error| {facts['max_abs_error_pct']:.2f} %"
                if facts["max_abs_error_pct"] is not None else "") + ".", "",
             "| point | " + " | ".join(k[len("error_pct_"):] + " error %" for k in rows[0]
                                       if k.startswith("error_pct_")) + " | on exact front |",
             "|---" * (1 + sum(k.startswith("error_pct_") for k in rows[0]) + 1) + "|"] if rows else []
    for r in rows:
        errs = [r[k] for k in r if k.startswith("error_pct_")]
        lines.append(f"| {r['point']} | " + " | ".join("" if v is None else f"{v:+.2f}" for v in errs)
                     + f" | {'yes' if r['on_exact_front'] else 'no'} |")
    return "\n".join(lines) + "\n"
