"""Result folders and names (issue 23): ``--force`` replaces only a folder the tools wrote
and keeps the old one until the new run completed; ``--out`` never the current directory,
its parents or a folder holding an input; names made safe for files, plot text, HTML ids
and Markdown; files and folders follow the umask; stale temporaries cleaned."""
from __future__ import annotations

import errno
import json
import os
import pathlib
import re
import time

import pytest

import eie_sim.apps.sweep as sweep_mod
import eie_sim.apps.sweep_exec as sweep_exec
from compressor.fileio import atomic_write
from eie_sim.apps.sweep import run_sweep
from eie_sim.arch.config_io import load_config
from eie_sim.cli.plot import plot_main
from eie_sim.cli.simulate import simulate_main
from eie_sim.cli.sweep import sweep_main
from eie_sim.output.folders import MARKER, clean_stale
from eie_sim.output.names import markdown_text, plot_text, safe_names

WL = ("workload:\n  synthetic: {name: a, rows: 24, cols: 32, weight_density: 0.2, "
      "act_density: 0.6, seed: 3}\nrun: {workers: 1}\n")
GRID = WL + "sweep:\n  pes: [1, 2]\n  queue_depth: [1, 4]\n"
GRID2 = WL + "sweep:\n  pes: [1, 4]\n  queue_depth: [1, 4]\n"
NAMES = ["fc$\\foo{$", "a" * 250, "a/b", "a_b", "a b", "<script>"]


def _snapshot(folder: pathlib.Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _hidden(parent: pathlib.Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------ --force and --out
def test_force_refuses_a_folder_the_tools_did_not_write(tmp_path, capsys):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(GRID)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    for argv in ([str(cfg), "--out", str(out), "--force", "--quiet"],
                 [str(cfg), "--out", str(out), "--quiet"]):
        assert sweep_main(argv) == 2
        err = capsys.readouterr().err
        assert "not written by eie-sim" in err and "--force" not in err.split("error:")[1], err
        assert _snapshot(out) == {"thesis.tex": b"years of work"}
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", str(out), "--force"]) == 2
    assert plot_main([str(tmp_path), "--out", str(out), "--force"]) == 2
    assert _snapshot(out) == {"thesis.tex": b"years of work"}
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("given", [".", "..", "sub/..", "sub/../.."])
def test_out_is_never_the_current_directory_or_a_parent(tmp_path, monkeypatch, capsys, given):
    (tmp_path / "w" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "w")
    pathlib.Path("s.yaml").write_text(GRID)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert sweep_main(["s.yaml", "--out", given, "--force", "--quiet"]) == 2
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", given, "--force"]) == 2
    assert plot_main(["sub", "--out", given, "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("current directory or one of its parents") == 3, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_out_holding_an_input_is_refused(tmp_path, capsys):
    out = tmp_path / "res"
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", str(out), "--quiet"]) == 0
    # eie-plot into the bundle it reads; eie-simulate with a config inside the folder it replaces
    assert plot_main([str(out), "--out", str(out), "--force"]) == 2
    (out / "c.yaml").write_text("pes: 4\n")
    before = _snapshot(out)
    assert simulate_main(["--config", str(out / "c.yaml"), "--synthetic", "8,8,0.5,0.5",
                          "--out", str(out), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("which this command reads") == 2, err
    assert _snapshot(out) == before


def test_force_replaces_the_tools_own_folders(tmp_path, capsys):
    out = tmp_path / "res"
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", str(out), "--quiet"]) == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["tool"] == "eie-simulate" and marker["kind"] == "bundle" and marker["version"]
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "exists and is not empty (eie-simulate bundle)" in err and "--force" in err
    assert simulate_main(["--synthetic", "9,9,0.5,0.5", "--out", str(out), "--quiet",
                          "--force"]) == 0
    assert "9 x 9" in (out / "report.md").read_text()
    assert _hidden(tmp_path) == []


def test_force_sweep_keeps_the_old_folder_when_interrupted_after_points(tmp_path, monkeypatch):
    """Before: the old folder was deleted once the new run had recorded one point; a Ctrl-C
    then lost it. Now it is kept as it was until the new run completed (and exported)."""
    out = tmp_path / "o"
    run_sweep(load_config(text=GRID), out)
    before = _snapshot(out)
    calls = []
    real = sweep_exec.run_points

    def some_then_ctrl_c(tasks, workloads):
        calls.append(1)
        if len(calls) > 2:               # two points recorded in the new database
            raise KeyboardInterrupt
        return real(tasks, workloads)
    monkeypatch.setattr(sweep_exec, "run_points", some_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_config(text=GRID2), out, force=True)
    assert len(calls) == 3
    assert _snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_force_sweep_keeps_the_old_folder_when_the_export_fails(tmp_path, monkeypatch):
    out = tmp_path / "o"
    run_sweep(load_config(text=GRID), out)
    before = _snapshot(out)

    def full_disk(path, data):
        if pathlib.Path(path).name == "points.csv":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return atomic_write(path, data)
    monkeypatch.setattr(sweep_mod, "atomic_write", full_disk)
    with pytest.raises(OSError):
        run_sweep(load_config(text=GRID2), out, force=True)
    assert _snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    monkeypatch.undo()
    res = run_sweep(load_config(text=GRID2), out, force=True)
    assert res["out"] == str(out) and res["ran"] == 4
    assert (out / "points.csv").read_bytes() != before["points.csv"] and (out / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_force_replaces_a_sweep_folder_of_an_older_version(tmp_path):
    """A sweep folder written before the marker existed (its sweep.db) is still ours."""
    out = tmp_path / "o"
    run_sweep(load_config(text=GRID), out)
    (out / MARKER).unlink()
    (out / "notes-by-the-tool.txt").write_text("x")      # not a known name: sweep.db decides
    run_sweep(load_config(text=GRID2), out, force=True)
    assert not (out / "notes-by-the-tool.txt").exists() and (out / MARKER).exists()


# ------------------------------------------------------------------ names
def test_safe_names_unique_short_and_literal():
    safe = safe_names(NAMES)
    files = [s.file for s in safe.values()]
    assert len(set(files)) == len(NAMES) and len({s.html_id for s in safe.values()}) == len(NAMES)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,89}", f) for f in files), files
    assert safe["a_b"].file == "a_b" and safe == safe_names(NAMES)      # deterministic
    assert safe["fc$\\foo{$"].title == "fc\\$\\foo{\\$"
    assert plot_text("$x$") == "\\$x\\$"
    assert markdown_text("a|b`c") == "a\\|b\\`c" and markdown_text("<script>") == "\\<script\\>"


def test_hostile_layer_names_through_simulate_and_plot(tmp_path, capsys):
    """Before: ``fc$\\foo{$`` ended eie-simulate with a mathtext traceback and nothing
    written; 250 characters made eie-plot fail (file name too long); a/b, a_b and a b
    overwrote each other's plots and gave report.html duplicate ids."""
    layers = "".join(f"    - {{name: {json.dumps(n)}, rows: 12, cols: 16, weight_density: 0.4, "
                     f"act_density: 0.5, seed: {i}}}\n" for i, n in enumerate(NAMES))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("pes: 4\nworkload:\n  synthetic:\n" + layers)
    out = tmp_path / "res"
    assert simulate_main(["--config", str(cfg), "--window", "8", "--out", str(out),
                          "--quiet"]) == 0, capsys.readouterr().err
    page = (out / "report.html").read_text()
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and "<script>" not in page
    assert page.count('<figure class="plot" id="plot-per_pe_') == len(NAMES)
    md = (out / "report.md").read_text()
    assert "| \\<script\\> |" in md and "| fc\\$\\\\foo{\\$ |" in md and "| a/b |" in md
    assert plot_main([str(out), "--out", str(tmp_path / "png")]) == 0, capsys.readouterr().err
    made = [p.name for p in (tmp_path / "png").iterdir()]
    assert len([m for m in made if m.startswith("per_pe_")]) == len(NAMES)
    assert len([m for m in made if m.startswith("timeline_heatmap_")]) == 2 * len(NAMES)
    assert max(len(m) for m in made) < 120


# ------------------------------------------------------------------ modes and leftovers
@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o027, 0o002])
def test_files_and_folders_follow_the_umask(tmp_path, umask, mask):
    """Before: bundle folders were 0700 (mkdtemp) and exports 0600 or forced 0644."""
    umask(mask)
    sim, sw = tmp_path / "sim", tmp_path / "sw"
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", str(sim), "--quiet"]) == 0
    run_sweep(load_config(text=GRID), sw)
    assert plot_main([str(sim), "--out", str(tmp_path / "png")]) == 0
    for folder in (sim, sw, tmp_path / "png"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~mask, folder
        for f in folder.iterdir():
            assert f.stat().st_mode & 0o777 == 0o666 & ~mask, f
    atomic_write(tmp_path / "x.txt", "x")
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_stale_temporaries_of_killed_runs_are_cleaned(tmp_path):
    out = tmp_path / "res"
    old = time.time() - 3600
    dead = 2 ** 22 + 12345                    # above Linux's default pid_max
    stale = [tmp_path / f".res.tmp-{dead}-abcd1234", tmp_path / ".res.tmp-x1y2z3w4",
             tmp_path / ".res.old-zzzz", tmp_path / f".res.replaced-{dead}"]
    for p in stale:
        p.mkdir()
        (p / "layers.csv").write_text("x")
    alive = tmp_path / f".res.tmp-{os.getppid()}-abcd1234"       # a running process's
    alive.mkdir()
    fresh = tmp_path / f".res.tmp-{dead}-fresh123"               # newer than this run
    fresh.mkdir()
    other = tmp_path / f".other.tmp-{dead}-abcd1234"             # another target's
    other.mkdir()
    for p in stale + [alive, other]:
        os.utime(p, (old, old))
    os.utime(fresh, (time.time() + 60, time.time() + 60))
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", str(out), "--quiet"]) == 0
    assert not any(p.exists() for p in stale)
    assert alive.exists() and fresh.exists() and other.exists()
    # an atomic write killed inside a sweep folder left its .NAME.XXXXXXXX.tmp
    leftover = out / ".points.csv.k2j4h5g6.tmp"
    leftover.write_text("half")
    os.utime(leftover, (old, old))
    assert leftover in clean_stale(out) and not leftover.exists()


def test_force_never_replaces_a_folder_a_config_file_names(tmp_path, capsys):
    """run.out of a file is where results go, but --force replaces only an --out typed on
    the command line (docs/security.md): a config naming a folder of results cannot make
    eie-simulate --force delete it."""
    keep = tmp_path / "precious"
    assert simulate_main(["--synthetic", "8,8,0.5,0.5", "--out", str(keep), "--quiet"]) == 0
    before = sorted(p.name for p in keep.iterdir())
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"run:\n  out: {keep}\nworkload:\n  table3: Alex-7\n")
    capsys.readouterr()
    assert simulate_main(["--config", str(cfg), "--force", "--quiet"]) == 2
    assert "--force replaces only a folder named with --out on the command line" in \
        capsys.readouterr().err
    assert sorted(p.name for p in keep.iterdir()) == before


def test_a_user_folder_of_known_names_is_not_taken_for_a_bundle(tmp_path):
    """Without a marker, only a real bundle of an earlier version counts as the tools':
    a user's own config.yaml and report.md are never replaced by --force."""
    from eie_sim.output import folders
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "config.yaml").write_text("pes: 4\n")
    (mine / "report.md").write_text("my notes\n")
    assert folders.owner(mine) is None
    (mine / "summary.json").write_text("{}")
    (mine / "layers.csv").write_text("layer\n")
    assert folders.owner(mine) == "results bundle (older version)"


def test_a_folder_left_aside_by_a_killed_replacement_is_put_back(tmp_path):
    """replace_dir killed between its two renames leaves the old folder only in
    .NAME.old-PID-*/x: the next run restores it instead of cleaning it away."""
    import os
    import time

    from eie_sim.output import folders
    out = tmp_path / "res"
    aside = tmp_path / ".res.old-999999-abcd"
    (aside / "x").mkdir(parents=True)
    (aside / "x" / "summary.json").write_text("{}")
    past = time.time() - 3600
    os.utime(aside, (past, past))
    folders.clean_stale(out)
    assert (out / "summary.json").read_text() == "{}" and not aside.exists()
