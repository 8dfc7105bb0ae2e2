"""report.html of a sweep folder and of a run (issue 28): real HTML tables with rounded
numbers, the plots found in the folder embedded, failed and non-fitting points marked,
self-contained; parsed with html.parser here, opened in a headless Chromium where one is
installed (slow test)."""
import csv
import html.parser
import json
import re
import shutil
import subprocess
from collections import defaultdict

import pytest

from eie_sim.apps.sweep import run_sweep
from eie_sim.arch.config_io import load_config
from eie_sim.cli.plot import plot_main
from eie_sim.cli.simulate import simulate_main
from eie_sim.errors import BundleError
from eie_sim.output.html import number
from eie_sim.output.sweep_html import write_sweep_report

SWEEP = ("workload:\n  synthetic: {name: a, rows: 128, cols: 400, weight_density: 0.3, "
         "act_density: 0.5, seed: 1}\nspmat_sram_kb: 4\ndram: none\nrun: {workers: 1, check_fit: false}\n"
         "sweep:\n  pes: [1, 4, 16]\n  queue_depth: [2, 8]\n")
#: a 1x1 PNG (as matplotlib would write a plot: the page embeds whatever PNGs it finds)
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4f80000000049454e44ae426082")


class Page(html.parser.HTMLParser):
    """Tags, the tables (each a list of rows of cell texts with their row class), the
    headings and the embedded images of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tags, self.tables, self.h2, self.imgs = defaultdict(int), [], [], []
        self._cell = self._row = None
        self._h2 = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = ([], a.get("class", ""))
            self.tables[-1].append(self._row)
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h2":
            self._h2 = []
        elif tag == "img":
            self.imgs.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[0].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h2" and self._h2 is not None:
            self.h2.append("".join(self._h2).strip())
            self._h2 = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._h2 is not None:
            self._h2.append(data)

    def table_after(self, heading_prefix: str, text: str) -> list:
        """The first table whose header row starts like ``heading_prefix`` (cells)."""
        for t in self.tables:
            if t and t[0][0][:len(heading_prefix)] == heading_prefix:
                return t
        raise AssertionError(f"no table starting with {heading_prefix}")


def _self_contained(text: str) -> None:
    p = Page(text)
    assert p.tags["script"] == 0 and p.tags["link"] == 0
    assert not re.search(r'(src|href)\s*=\s*"(https?:|//|file:)', text)
    assert all(s.startswith("data:image/png;base64,") for s in p.imgs)


def _sweep(tmp_path):
    out = tmp_path / "sw"
    run_sweep(load_config(text=SWEEP), out)
    return out


def test_sweep_folder_has_a_report_page(tmp_path):
    out = _sweep(tmp_path)
    text = (out / "report.html").read_text()
    _self_contained(text)
    p = Page(text)
    assert p.h2[:4] == ["What was swept", "Pareto front (latency, energy, area; "
                        f"{len(list(csv.DictReader((out / 'pareto.csv').open())))} points)",
                        "Best points", "Where relative figures start"]
    assert "Points that failed or do not fit the SRAMs" in p.h2 and "Every point (6)" in p.h2
    swept = p.table_after(["key", "values"], "")
    assert [r[0] for r in swept[1:]] == [["pes", "1, 4, 16"], ["queue_depth", "2, 8"]]
    points = list(csv.DictReader((out / "points.csv").open()))
    front = list(csv.DictReader((out / "pareto.csv").open()))
    tables = [t for t in p.tables if t[0][0][:4] == ["point", "pes", "queue_depth", "SRAM fit"]]
    front_t, every_t = tables[0], tables[-1]
    assert [r[0][0] for r in front_t[1:]] == [r["point"] for r in front]
    assert [r[0][0] for r in every_t[1:]] == [r["point"] for r in points]
    # the 1-PE points do not fit: marked (row class and text), on no front, listed with why
    unfit = [r for r in every_t[1:] if r[0][1] == "1"]
    assert unfit and all(r[1] == "unfit" and r[0][3] == "does not fit: excluded" for r in unfit)
    assert all(r[0][1] != "1" for r in front_t[1:])
    problems = p.table_after(["point", "pes", "queue_depth", "SRAM fit", "needed spmat sram kb"], "")
    assert sorted(r[0][0] for r in problems[1:]) == sorted(
        r["point"] for r in points if r["fit_handling"] == "excluded")
    # numbers rounded, never a 16-digit float
    assert not re.search(r"\d\.\d{7,}", text.split("<h2>Configuration")[0])
    best = p.table_after(["criterion"], "")
    assert [r[0][0] for r in best[1:]][:3] == ["lowest latency", "lowest energy", "smallest chip"]
    lowest = min((r for r in points if r["fit_handling"] == ""), key=lambda r: float(r["total_energy_uj"]))
    assert best[2][0][1] == number(float(lowest["total_energy_uj"])) and best[2][0][2] == lowest["point"]
    assert "No plots in this folder yet" in text


def test_sweep_report_embeds_the_plots_it_finds(tmp_path):
    out = _sweep(tmp_path)
    (out / "plots").mkdir()
    (out / "plots" / "any_name_at_all.png").write_bytes(PNG)
    (out / "top.png").write_bytes(PNG)
    (out / "not_a_png.png").write_bytes(b"text")
    write_sweep_report(out)
    text = (out / "report.html").read_text()
    _self_contained(text)
    p = Page(text)
    assert len(p.imgs) == 2
    assert 'data-plot="plots/any_name_at_all.png"' in text and 'data-plot="top.png"' in text
    assert not (out / "report.html.tmp").exists()
    with pytest.raises(BundleError, match="not a finished eie-sweep folder"):
        write_sweep_report(tmp_path)


def test_eie_plot_refreshes_the_sweep_page_with_its_plots(tmp_path, capsys):
    """eie-plot writing into a finished sweep folder (its plots/ folder, the default)
    rewrites the sweep's report.html so that the page embeds the plots it just drew."""
    out = _sweep(tmp_path)
    before = Page((out / "report.html").read_text())
    assert plot_main([str(out)]) == 0
    assert str(out / "report.html") in capsys.readouterr().out
    drawn = sorted(p.name for p in (out / "plots").glob("*.png"))
    text = (out / "report.html").read_text()
    _self_contained(text)
    assert drawn and len(Page(text).imgs) == len(before.imgs) + len(drawn)
    assert all(f'data-plot="plots/{n}"' in text for n in drawn)


def test_run_report_has_tables_not_markdown(tmp_path, capsys):
    out = tmp_path / "run"
    assert simulate_main(["--table3", "NT-We", "--set", "pes=16", "--out", str(out)]) == 0
    capsys.readouterr()
    text = (out / "report.html").read_text()
    p = Page(text)
    title = re.search(r"<h1>(.*?)</h1>", text).group(1)
    assert title == "EIE simulation: Table III layers NT-We (synthetic, seed 0)"
    assert "[" not in title and "<pre>|" not in text and "|---|" not in text
    assert {"Layers", "Totals", "Energy and area"} <= set(p.h2)
    totals = p.table_after(["quantity", "value", "unit"], "")
    summ = json.loads((out / "summary.json").read_text())
    assert len(totals) - 1 == sum(not isinstance(v, (dict, list)) for v in summ["totals"].values())
    by = {r[0][0]: r[0][1:] for r in totals[1:]}
    assert by["cycles"] == [f"{summ['totals']['cycles']:,}", "cycles"]
    assert by["total energy"][1] == "uJ" and len(by["total energy"][0]) <= 8
    assert by["time"] == [number(summ["totals"]["time_us"]), "us"]
    energy = p.table_after(["layer", "act_queue (uJ)"], "")
    assert energy[1][0][0] == "NT-We" and energy[1][0][-2] == number(summ["totals"]["total_energy_uj"])
    area = p.table_after(["part", "area (mm^2)", "share of a PE"], "")
    assert area[-1][0][0] == "chip (16 PEs)"
    assert summ["fit"]["fits"] is True and summ["fit"]["needed_spmat_sram_kb"] <= 128
    assert "the layers fit the per-PE SRAMs" in text


@pytest.mark.slow
def test_sweep_report_renders_in_headless_chromium(tmp_path):
    """The sweep page opens offline in a real browser with its tables and plots."""
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome",
                                              "google-chrome-stable", "chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium on this machine (chromium, chromium-browser or google-chrome); "
                    "install one to run this test")
    out = _sweep(tmp_path)
    (out / "p.png").write_bytes(PNG)
    write_sweep_report(out)
    expected = Page((out / "report.html").read_text())
    proc = subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox",
                           "--virtual-time-budget=5000", "--dump-dom", (out / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = Page(proc.stdout)
    assert got.tags["table"] == expected.tags["table"] and got.h2 == expected.h2
    assert len(got.imgs) == 1
