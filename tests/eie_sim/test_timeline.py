"""Utilisation over time, the user-facing half (issue 14): ``run.window`` / ``--window`` and
windows.csv, the timeline plots, report.html, and the Perfetto and VCD traces, each read
back and held to the run's own counters."""
import csv
import html.parser
import json
import re
import shutil
import subprocess
from collections import defaultdict

import numpy as np
import pytest

import compressor
from eie_sim.arch.config import ArchConfig
from eie_sim.arch.config_io import load_config
from eie_sim.cli.plot import plot_main
from eie_sim.cli.simulate import simulate_main
from eie_sim.errors import ConfigError, TraceError
from eie_sim.output import trace_collect, traces
from eie_sim.output.windows import WINDOW_COLUMNS
from eie_sim.sim.layer import simulate_layer
from eie_sim.sim.network import run_workload
from eie_sim.sim.options import SimOptions
from eie_sim.workloads.layer import Workload
from eie_sim.workloads.synthetic import synthetic_layer

#: two independent layers with several output passes and input batches (loads, stores,
#: reloads) on 4 PEs
SMALL = ("pes: 4\nact_regs_per_pe: 2\nqueue_depth: 2\nindex_bits: 2\nact_sram_width_bits: 16\n"
         "workload:\n  synthetic:\n"
         "    - {name: a, rows: 30, cols: 40, weight_density: 0.3, act_density: 0.6, seed: 4, bias: true}\n"
         "    - {name: b, rows: 9, cols: 17, weight_density: 0.5, act_density: 1.0, seed: 5}\n")


def run(argv, capsys):
    rc = simulate_main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def rows_of(path):
    return list(csv.DictReader(path.open()))


def check_windows_equal_layer_totals(bundle):
    """windows.csv sums, per layer, equal the layers.csv totals exactly."""
    layers = {r["layer"]: r for r in rows_of(bundle / "layers.csv")}
    wins = rows_of(bundle / "windows.csv")
    assert list(wins[0]) == list(WINDOW_COLUMNS)
    per_pe = defaultdict(dict)
    for r in rows_of(bundle / "per_pe.csv"):
        per_pe[r["layer"]][int(r["pe"])] = r
    by_layer = defaultdict(list)
    for r in wins:
        by_layer[r["layer"]].append(r)
    assert list(by_layer) == list(layers)
    for name, rows in by_layer.items():
        lay, pes = layers[name], int(layers[name]["pes"])
        pe_rows = [r for r in rows if r["unit"] == "pe"]
        ccu = [r for r in rows if r["unit"] == "ccu"]
        assert len(pe_rows) == len(ccu) * pes and all(r["pe"] == "" for r in ccu)
        total = lambda rs, c: sum(int(r[c]) for r in rs)   # noqa: E731
        cycles = int(lay["cycles"])
        assert total(ccu, "cycles") == cycles
        assert total(pe_rows, "cycles") == pes * cycles
        assert total(pe_rows, "busy") == int(lay["useful_macs"])
        assert total(pe_rows, "padding") == int(lay["padding_macs"])
        assert total(pe_rows, "empty") == int(lay["empty_cycles"])
        assert total(pe_rows, "starved") == int(lay["starved_cycles"])
        assert max(int(r["queue_max"]) for r in pe_rows) == int(lay["max_queue_occupancy"])
        assert total(ccu, "broadcasts") == int(lay["broadcasts"])
        assert total(ccu, "stall_cycles") == int(lay["queue_full_stalls"])
        assert total(ccu, "load_cycles") == int(lay["batch_load_cycles"])
        assert total(ccu, "store_cycles") == int(lay["batch_store_cycles"])
        assert all(sum(int(r[c]) for c in ("broadcasts", "stall_cycles", "row_moves", "load_cycles",
                                          "store_cycles", "idle_cycles")) == int(r["cycles"])
                   for r in ccu)
        for k in range(pes):             # per PE, the windows add up to per_pe.csv
            mine = [r for r in pe_rows if int(r["pe"]) == k]
            for c in ("busy", "padding", "empty", "starved"):
                assert total(mine, c) == int(per_pe[name][k][c]), (name, k, c)
            assert all(float(r["queue_mean"]) <= int(r["queue_max"]) for r in mine)


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.plots = defaultdict(int), []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        a = dict(attrs)
        if tag == "figure" and "data-plot" in a:
            self.plots.append(a["data-plot"])


def html_plots(path):
    text = path.read_text(encoding="utf-8")
    p = _Tags()
    p.feed(text)
    assert p.tags["script"] == 0 and p.tags["link"] == 0 and p.tags["img"] == 0
    assert not re.search(r'(src|href)\s*=\s*"(https?:|//|file:)', text)     # nothing fetched
    assert p.tags["svg"] == len(p.plots)
    return p.plots


# ------------------------------------------------------------------ windows, plots, html
def test_alex8_window_bundle_plots_and_report(tmp_path, capsys):
    """The issue's case: Alex-8 at 64 PEs, windows of 500 cycles."""
    out = tmp_path / "a8"
    rc, so, se = run(["--table3", "Alex-8", "--window", "500", "--out", out], capsys)
    assert rc == 0, se
    assert "windows of 500 cycles" in so
    check_windows_equal_layer_totals(out)
    assert len({r["window"] for r in rows_of(out / "windows.csv")}) == -(-int(
        rows_of(out / "layers.csv")[0]["cycles"]) // 500)
    plots = html_plots(out / "report.html")
    assert plots == ["timeline_heatmap_Alex-8", "timeline_queue_Alex-8", "timeline_ccu_Alex-8",
                     "timeline_breakdown", "per_pe_Alex-8", "energy_by_unit", "area_by_unit"]
    assert json.loads((out / "summary.json").read_text())["config"]["run"]["window"] == 500
    assert "window: 500" in (out / "config.yaml").read_text()
    # eie-plot: the same plots as PNG and SVG
    assert plot_main([str(out), "--out", str(tmp_path / "p")]) == 0
    made = sorted(p.name for p in (tmp_path / "p").iterdir())
    for stem in plots[:4]:
        assert f"{stem}.png" in made and f"{stem}.svg" in made
        assert (tmp_path / "p" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (tmp_path / "p" / f"{stem}.svg").read_bytes()[:2000]
    capsys.readouterr()


def test_windows_of_layers_with_passes_batches_and_a_network(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMALL + "run: {window: 7.0}\n")        # an integral float is an integer
    rc, so, se = run(["--config", cfg, "--out", tmp_path / "ind"], capsys)
    assert rc == 0, se
    check_windows_equal_layer_totals(tmp_path / "ind")
    lay = rows_of(tmp_path / "ind" / "layers.csv")
    assert int(lay[0]["passes"]) > 1 and int(lay[0]["pass_reload_cycles"]) > 0
    assert html_plots(tmp_path / "ind" / "report.html") == [
        "timeline_heatmap_a", "timeline_queue_a", "timeline_ccu_a", "timeline_heatmap_b",
        "timeline_queue_b", "timeline_ccu_b", "timeline_breakdown", "timeline_all_heatmap",
        "timeline_all_queue", "timeline_all_ccu", "per_pe_a", "per_pe_b", "energy_by_unit",
        "area_by_unit"]
    # a network (a model's fc layers in sequence): same counters as without windows
    rng = np.random.default_rng(0)
    compressor.compress({"fc1": rng.standard_normal((24, 30)).astype(np.float32),
                         "fc2": rng.standard_normal((10, 24)).astype(np.float32)},
                        compressor.LayerSpec(density=0.3, bits=4), seed=0, out=tmp_path / "m.dcmp")
    rc, so, se = run(["--model", tmp_path / "m.dcmp", "--set", "pes=4", "--set", "act_regs_per_pe=4",
                      "--window", "5", "--out", tmp_path / "net"], capsys)
    assert rc == 0, se
    rc, so, se = run(["--model", tmp_path / "m.dcmp", "--set", "pes=4", "--set", "act_regs_per_pe=4",
                      "--out", tmp_path / "plain"], capsys)
    assert rc == 0, se
    assert not (tmp_path / "plain" / "windows.csv").exists()
    check_windows_equal_layer_totals(tmp_path / "net")
    drop = ("wall_s",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in rows_of(tmp_path / "net" / "layers.csv")] == \
        [{k: v for k, v in r.items() if k not in drop} for r in rows_of(tmp_path / "plain" / "layers.csv")]
    assert "timeline_all_heatmap" in html_plots(tmp_path / "net" / "report.html")
    assert "Not recorded" in (tmp_path / "plain" / "report.html").read_text()


def test_recorded_runs_count_the_same_as_plain_runs():
    """run_workload with windows and a recorded layer gives the counters of a plain run."""
    cfg = ArchConfig(pes=4, act_regs_per_pe=2, queue_depth=2).validate()
    layers = [synthetic_layer(30, 40, 0.3, 0.6, seed=4, bias=True, name="a"),
              synthetic_layer(20, 30, 0.4, 1.0, seed=5, name="b")]
    rng = np.random.default_rng(1)
    for wl in (Workload(layers), Workload(layers, network=False),
               Workload([synthetic_layer(30, 40, 0.3, seed=4, name="a"),
                         synthetic_layer(20, 30, 0.4, seed=5, name="b")], network=True,
                        x=np.abs(rng.standard_normal(40)))):
        plain, t0 = run_workload(wl, cfg)
        rec, t1 = run_workload(wl, cfg, SimOptions(window=11), record=["b"])
        assert t0 == t1
        for a, b in zip(plain, rec):
            assert a.to_dict() | {"wall_s": 0} == b.to_dict() | {"wall_s": 0}
            assert np.array_equal(a.output_q, b.output_q)
        assert rec[0].timeline is not None and rec[1].timeline is not None   # window records all
        rec, _ = run_workload(wl, cfg, record=["b"])
        assert rec[0].timeline is None and rec[1].timeline is not None and rec[1].windows is None


# ------------------------------------------------------------------ traces
def _layer_counters(bundle, name):
    lay = next(r for r in rows_of(bundle / "layers.csv") if r["layer"] == name)
    pe = sorted((r for r in rows_of(bundle / "per_pe.csv") if r["layer"] == name),
                key=lambda r: int(r["pe"]))
    return lay, pe


def perfetto_totals(path):
    """Per PE the slice cycles by category, the queue counters' maximum, the CCU slices."""
    doc = json.loads(path.read_text())
    ev = doc["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    pe_pid = {pid: int(n.split()[1]) for pid, n in names.items() if n.startswith("PE ")}
    ccu_pid = next(pid for pid, n in names.items() if n == "CCU")
    slices = defaultdict(int)
    ccu = defaultdict(int)
    qmax = defaultdict(int)
    last_end = defaultdict(int)
    for e in sorted((e for e in ev if e["ph"] == "X"), key=lambda e: (e["pid"], e["ts"])):
        assert e["dur"] >= 1 and e["ts"] >= last_end[e["pid"]]       # no overlap on a track
        last_end[e["pid"]] = e["ts"] + e["dur"]
        if e["pid"] in pe_pid:
            slices[pe_pid[e["pid"]], e["cat"]] += e["dur"]
        elif e["pid"] == ccu_pid:
            ccu[e["cat"]] += e["dur"]
    for e in ev:
        if e["ph"] == "C" and e["pid"] in pe_pid:
            qmax[pe_pid[e["pid"]]] = max(qmax[pe_pid[e["pid"]]], e["args"]["entries"])
    return doc, slices, ccu, qmax


def vcd_totals(path, first, end):
    """Per variable, the cycles spent at each value between ``first`` and ``end``."""
    from vcd.reader import TokenKind, tokenize
    ids, scope, changes = {}, [], []
    t = 0
    with open(path, "rb") as f:
        for tok in tokenize(f):
            if tok.kind is TokenKind.SCOPE:
                scope.append(tok.scope.ident)
            elif tok.kind is TokenKind.UPSCOPE:
                scope.pop()
            elif tok.kind is TokenKind.VAR:
                ids[tok.var.id_code] = ".".join(scope + [tok.var.reference])
            elif tok.kind is TokenKind.CHANGE_TIME:
                t = tok.time_change
            elif tok.kind is TokenKind.CHANGE_VECTOR:
                changes.append((t, ids[tok.vector_change.id_code], tok.vector_change.value))
    assert t == end                                  # the final timestamp closes the trace
    spent = defaultdict(lambda: defaultdict(int))
    current, since = {}, {}
    for time, var, value in changes + [(end, v, None) for v in ids.values()]:
        if var in current and time > since[var]:
            spent[var][current[var]] += time - max(since[var], first)
        current[var], since[var] = value, max(time, first)
    return ids, spent, changes


def test_perfetto_and_vcd_traces_read_back_equal_the_counters(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMALL)
    pj, vc = tmp_path / "t.json", tmp_path / "t.vcd"
    rc, so, se = run(["--config", cfg, "--trace-perfetto", pj, "--trace-vcd", vc, "--trace-layer", "a",
                      "--out", tmp_path / "o"], capsys)
    assert rc == 0, se
    assert "trace: layer a" in so
    lay, pe = _layer_counters(tmp_path / "o", "a")
    cycles, n = int(lay["cycles"]), int(lay["pes"])
    # Perfetto: the slices of each PE are its busy/padding/empty cycles, the gaps its starved
    doc, slices, ccu, qmax = perfetto_totals(pj)
    assert doc["otherData"]["layer"] == "a" and doc["otherData"]["end_cycle"] == cycles
    for k in range(n):
        for c in ("busy", "padding", "empty"):
            assert slices[k, c] == int(pe[k][c]), (k, c)
        assert cycles - sum(slices[k, c] for c in ("busy", "padding", "empty")) == int(pe[k]["starved"])
    assert max(qmax.values()) == int(lay["max_queue_occupancy"])
    assert ccu["broadcast"] == int(lay["broadcasts"])
    assert ccu["stall"] == int(lay["queue_full_stalls"])
    assert ccu["batch load"] == int(lay["batch_load_cycles"]) > 0
    assert ccu["store"] == int(lay["batch_store_cycles"]) > 0
    assert sum(1 for e in doc["traceEvents"] if e.get("cat") == "pass") == int(lay["passes"])
    state = sorted((e["ts"], e["args"]["state"]) for e in doc["traceEvents"]
                   if e["ph"] == "C" and e["name"] == "CCU state")
    held = defaultdict(int)                          # the CCU state counter, cycle by cycle
    for (t0, v), (t1, _) in zip(state, state[1:] + [(cycles, None)]):
        held[v] += t1 - t0
    assert [held[i] for i in range(1, 6)] == [ccu[c] for c in ("broadcast", "stall", "row move",
                                                                "batch load", "store")]
    # VCD: the per-PE state changes reproduce the per-PE totals
    ids, spent, _ = vcd_totals(vc, 0, cycles)
    for k in range(n):
        st = spent[f"eie.pe{k}.state"]
        for code, c in enumerate(("starved", "busy", "padding", "empty")):
            assert st[code] == int(pe[k][c]), (k, c)
        assert "x" not in spent[f"eie.pe{k}.queue"] and sum(spent[f"eie.pe{k}.queue"].values()) == cycles
    assert max(v for k in range(n) for v in spent[f"eie.pe{k}.queue"]) == int(lay["max_queue_occupancy"])
    cs = spent["eie.ccu.state"]
    assert cs[1] == int(lay["broadcasts"]) and cs[2] == int(lay["queue_full_stalls"])
    assert cs[4] == int(lay["batch_load_cycles"]) and cs[5] == int(lay["batch_store_cycles"])
    assert sum(n for v, n in spent["eie.ccu.column"].items() if v != "x") == int(lay["broadcasts"])
    assert sum(n for v, n in spent["eie.pe0.column"].items() if v != "x") == cycles - int(pe[0]["starved"])
    assert sum(spent["eie.pass"].values()) == cycles and len(spent["eie.pass"]) == int(lay["passes"])
    summ = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summ["trace"]["layer"] == "a" and summ["trace"]["vcd"] == str(vc)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temporaries


def test_trace_of_a_cycle_range_equals_its_windows(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMALL)
    pj, vc = tmp_path / "t.json", tmp_path / "t.vcd"
    rc, so, se = run(["--config", cfg, "--window", "20", "--trace-perfetto", pj, "--trace-vcd", vc,
                      "--trace-cycles", "40:100", "--out", tmp_path / "o"], capsys)
    assert rc == 0, se
    assert "cycles 40..99" in so
    wins = [r for r in rows_of(tmp_path / "o" / "windows.csv")
            if r["layer"] == "a" and r["unit"] == "pe" and 40 <= int(r["first_cycle"]) < 100]
    n = int(rows_of(tmp_path / "o" / "layers.csv")[0]["pes"])
    _, slices, _, _ = perfetto_totals(pj)
    _, spent, changes = vcd_totals(vc, 40, 100)
    assert min(t for t, _, _ in changes if t > 0) == 40
    for k in range(n):
        mine = [r for r in wins if int(r["pe"]) == k]
        for code, c in enumerate(("starved", "busy", "padding", "empty")):
            want = sum(int(r[c]) for r in mine)
            assert spent[f"eie.pe{k}.state"][code] == want, (k, c)
            if c != "starved":
                assert slices[k, c] == want, (k, c)


def test_trace_cap_and_range_errors_write_nothing(tmp_path, capsys, monkeypatch):
    cfg = ArchConfig(pes=4).validate()
    res = simulate_layer(synthetic_layer(30, 40, 0.3, 0.6, seed=4, name="a"), None, cfg, record=True)
    full = traces.collect_trace(res.timeline, "a")
    with pytest.raises(TraceError, match=r"more than 10 events \(the cap, MAX_TRACE_EVENTS\); "
                                         r"trace a narrower cycle range with --trace-cycles A:B"):
        traces.collect_trace(res.timeline, "a", max_events=10)
    assert traces.collect_trace(res.timeline, "a", max_events=full.n_events).n_events == full.n_events
    with pytest.raises(TraceError, match=f"has {res.cycles} cycles"):
        traces.collect_trace(res.timeline, "a", res.cycles, None)
    monkeypatch.setattr(trace_collect, "MAX_TRACE_EVENTS", 50)   # the cap collect_trace reads
    argv = ["--synthetic", "30,40,0.3,0.6,4", "--set", "pes=4", "--trace-perfetto", tmp_path / "t.json",
            "--trace-vcd", tmp_path / "t.vcd", "--out", tmp_path / "o"]
    rc, so, se = run(argv, capsys)
    assert rc == 2 and "more than 50 events" in se and "--trace-cycles" in se
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    rc, so, se = run(argv[:-2] + ["--trace-cycles", "100000:", "--out", tmp_path / "o"], capsys)
    assert rc == 2 and "starts past its end" in se
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, pattern", [
    (["--lenet", "m.dcmp", "--window", "10"], r"--window applies to --model, --npz, --synthetic, "
                                              r"--table3 or a workload: block only, not to --lenet"),
    (["--squeezenet", "--trace-vcd", "t.vcd"], r"--trace-vcd applies to .* not to --squeezenet"),
    (["--synthetic", "10,10,0.5,0.5", "--window", "10"], r"--window writes windows\.csv .* give --out"),
    (["--synthetic", "10,10,0.5,0.5", "--window", "0", "--out", "o"], r"--window: expected a number of cycles >= 1"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-layer", "x"], r"--trace-layer applies to a trace"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-vcd", "t.vcd", "--trace-layer", "x"],
     r"--trace-layer x: no such layer; layers: synthetic-10x10"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-vcd", "t.vcd", "--trace-cycles", "5-9"], r"expected A:B"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-vcd", "t.vcd", "--trace-cycles", "9:5"], r"0 <= A < B"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-vcd", "t.vcd", "--trace-perfetto", "t.vcd"], r"the same file"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-vcd", "nodir/t.vcd"], r"nodir does not exist"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-vcd", "."], r"is a directory"),
    (["--synthetic", "10,10,0.5,0.5", "--trace-vcd", "keep.vcd"], r"keep\.vcd: file exists .*--force"),
    (["--synthetic", "10,10,0.5,0.5", "--out", "o", "--trace-vcd", "o/t.vcd"], r"inside the --out directory"),
    (["--synthetic", "10,10,0.5,0.5", "--set", "run.window=-3"], r"run\.window: expected an integer >= 1"),
])
def test_timeline_flags_refused_where_they_do_not_apply(tmp_path, capsys, monkeypatch, argv, pattern):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.vcd").write_text("mine")
    try:
        rc, so, se = run(argv, capsys)
    except SystemExit as exc:            # argparse refuses the value itself
        rc, se = exc.code, capsys.readouterr().err
    assert rc == 2 and re.search(pattern, se), se
    assert se.count("\n") == 1 or "usage:" in se
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.vcd"]


def test_config_window_refused_for_squeezenet_and_checked(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("run: {window: 100}\n")
    rc, so, se = run(["--config", cfg, "--squeezenet", str(tmp_path / "none")], capsys)
    assert rc == 2 and "run.window" in se and "not to --squeezenet" in se
    assert load_config(cfg).run.window == 100
    cfg.write_text("run: {window: true}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:1: run\.window: expected an integer >= 1"):
        load_config(cfg)


@pytest.mark.slow
def test_report_html_renders_in_headless_chromium(tmp_path, capsys):
    """report.html opens offline in a real browser with every plot in place."""
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome",
                                              "google-chrome-stable", "chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium on this machine (chromium, chromium-browser or google-chrome); "
                    "install one to run this test")
    out = tmp_path / "b"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMALL)
    rc, so, se = run(["--config", cfg, "--window", "10", "--out", out], capsys)
    assert rc == 0, se
    expected = html_plots(out / "report.html")
    proc = subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox",
                           "--virtual-time-budget=5000", "--dump-dom", (out / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    p = _Tags()
    p.feed(proc.stdout)
    assert p.plots == expected and p.tags["svg"] >= len(expected)
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox", f"--screenshot={shot}",
                    "--window-size=1200,4000", (out / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
