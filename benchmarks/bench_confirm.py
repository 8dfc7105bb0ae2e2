"""Search analytically, confirm the front cycle-exactly (``run.confirm_engine``,
docs/analytical.md "Confirming a front"): per configuration, the sweep (or search) run
with ``engine: analytical`` + ``confirm_engine: fast`` against the same sweep run
cycle-exactly (``engine: fast``) from scratch.

Reported per configuration: wall time of each whole run (``eie-sweep`` in this process,
``workers`` 1, warm numba cache) and the sum of the points' own wall times (what the
engine choice changes; the rest is building the workloads and exporting), the front's
largest |error| in cycles and in the objectives, whether the confirmed front differs from
the analytical one, and whether it equals the front of the full cycle-exact run (the
confirmation only re-runs the analytical front: a point off it can be on the exact one).

The configurations' layers are SYNTHETIC (the Table III shapes with seeded random
weights, as configs/*.yaml say). ``python benchmarks/bench_confirm.py OUTDIR [--trials N]``
writes ``bench_confirm.json`` and ``bench_confirm.md``.

What it measured, and the figures before the estimate-only path and rule D in the
analytical model: docs/analytical.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import pathlib
import shutil
import sqlite3
import time

from eie_sim.apps.sweep import run_sweep
from eie_sim.arch.config_io import load_config

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = ("sweep_pes.yaml", "sweep_queue.yaml", "search_nsga2.yaml")


def _front(folder: pathlib.Path) -> list[int]:
    with (folder / "pareto.csv").open() as f:
        return [int(r["point"]) for r in csv.DictReader(f)]


def _point_wall(folder: pathlib.Path) -> float:
    con = sqlite3.connect(folder / "sweep.db")
    try:
        return float(con.execute("SELECT SUM(wall_s) FROM points").fetchone()[0] or 0.0)
    finally:
        con.close()


def measure(name: str, out: pathlib.Path, trials: int | None) -> dict:
    sets = ["run.workers=1"]
    if trials and name.startswith("search"):
        sets.append(f"sweep.search.trials={trials}")
    res = {"config": name}
    for label, extra in (("analytical", ["run.engine=analytical", "run.confirm_engine=fast"]),
                         ("fast", ["run.engine=fast"])):
        folder = out / f"{pathlib.Path(name).stem}_{label}"
        shutil.rmtree(folder, ignore_errors=True)
        t = time.perf_counter()
        r = run_sweep(load_config(ROOT / "configs" / name, sets + extra), folder)
        res[f"{label}_wall_s"] = time.perf_counter() - t
        res[f"{label}_points_wall_s"] = _point_wall(folder)
        res["points"] = r["points"]
        res[f"{label}_front"] = _front(folder)
        if label == "analytical":
            c = json.loads((folder / "summary.json").read_text())["confirm"]
            with (folder / "confirm.csv").open() as f:
                rows = list(csv.DictReader(f))
            res["confirm_wall_s"] = c["exact_wall_s_front"]
            res["front_differs"] = c["front_differs"]
            res["left_front"] = c["left_front"]
            res["max_abs_cycle_error_pct"] = max(abs(float(x["error_pct_cycles"])) for x in rows)
            res["max_abs_objective_error_pct"] = c["max_abs_error_pct"]
            res["confirmed_front"] = [int(x["point"]) for x in rows if x["on_exact_front"].lower() == "true"]
    # the search asks other points when the objectives differ: compare fronts by params
    a = {json.dumps(_params(out / f"{pathlib.Path(name).stem}_analytical", i), sort_keys=True)
         for i in res["confirmed_front"]}
    f = {json.dumps(_params(out / f"{pathlib.Path(name).stem}_fast", i), sort_keys=True)
         for i in res["fast_front"]}
    res["confirmed_equals_exact_front"] = a == f
    res["exact_front_points_missed"] = len(f - a)
    return res


def _params(folder: pathlib.Path, point: int) -> dict:
    con = sqlite3.connect(folder / "sweep.db")
    try:
        return json.loads(con.execute("SELECT params FROM points WHERE point = ?",
                                      (point,)).fetchone()[0])
    finally:
        con.close()


def markdown(rows: list[dict]) -> str:
    lines = ["| config | points | analytical run (s) | its points (s) | confirm front (s) | "
             "cycle-exact run (s) | its points (s) | front | max cycle error | confirmed front "
             "differs | = exact front |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['config']} | {r['points']} | {r['analytical_wall_s']:.1f} | "
            f"{r['analytical_points_wall_s']:.2f} | {r['confirm_wall_s']:.2f} | "
            f"{r['fast_wall_s']:.1f} | {r['fast_points_wall_s']:.2f} | "
            f"{len(r['analytical_front'])} | {r['max_abs_cycle_error_pct']:.2f} % | "
            f"{'yes ' + str(r['left_front']) if r['front_differs'] else 'no'} | "
            f"{'yes' if r['confirmed_equals_exact_front'] else 'no (' + str(r['exact_front_points_missed']) + ' missed)'} |")
    return "\n".join(lines) + "\n"


def main(outdir, trials: int | None = None, configs=CONFIGS) -> list[dict]:
    """Measure ``configs``; write ``bench_confirm.json`` and ``bench_confirm.md`` under ``outdir``."""
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [measure(c, out / "bench_confirm", trials) for c in configs]
    (out / "bench_confirm.json").write_text(json.dumps(rows, indent=1))
    md = markdown(rows)
    (out / "bench_confirm.md").write_text(md)
    print(md)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", help="folder for the sweep folders and bench_confirm.json/.md")
    p.add_argument("--trials", type=int, help="trials of the search configuration (default: its own)")
    p.add_argument("--configs", nargs="*", default=list(CONFIGS), help="configs/ files to measure")
    a = p.parse_args()
    main(a.outdir, a.trials, a.configs)
