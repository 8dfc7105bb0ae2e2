"""The compact networks on EIE: MobileNet v1/v2, SqueezeNext-23, SqueezeDet, ENet, SegNet
(SYNTHETIC weights, paper layer shapes) beside the authors' SqueezeNet (real weights).

For each network of :mod:`compressor.zoo` (docs/networks.md): build it at its paper's input
size, give it seeded synthetic weights pruned to the assumed Deep Compression-like
densities and quantized to 4-bit codes, run the float forward pass of the quantized
network on a seeded synthetic image, then every parameter layer on EIE at 64 and 256 PEs,
one M x V per output position on a seeded sample of ``--positions`` positions per layer
(totals extrapolated, labelled), every simulated output checked against numpy. The
authors' compressed SqueezeNet (real weights, ``../shared/data/squeezenet``; skipped with
a note when absent) runs the same way (same sample size) for the row beside them.

One table (cycles, time, energy, load efficiency, PE utilisation, real/total work per
image; the layer with the most cycles; compressed size in Deep Compression's Table 2
columns) -> ``OUTDIR/networks/networks.md`` and ``networks.csv``; per network and PE
count a results bundle with ``cycles.png`` (cycles per layer stacked busy / padding /
empty / starved, per-layer load efficiency) -> ``OUTDIR/networks/NAME_pesN/``.

    python -m benchmarks.bench_networks [OUTDIR] [--positions N] [--seed S] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import pathlib
import time

import eie_sim
from compressor import accounting
from eie_sim import NETWORK_NAMES, PAPER_CONFIG
from eie_sim import SQUEEZENET_DIR as DEFAULT_SQUEEZENET_DIR
from eie_sim import SQUEEZENET_NET as NET_NAME
from eie_sim import SQUEEZENET_PROTOTXT as PROTOTXT_NAME

PES = (64, 256)
DEFAULT_POSITIONS = 32
COLUMNS = ("network", "weights", "input", "layers", "dense_macs", "pes", "positions_sampled",
           "cycles", "time_us", "images_per_s", "total_energy_uj", "load_efficiency", "pe_utilisation",
           "real_over_total_work", "broadcast_bound_share", "top_layer", "top_share", "n_weights", "kept", "rate_pqh",
           "stored_mb", "wall_s")


def _say(*a):
    print(*a, flush=True)


def _row(name, weights, size, t, top, ct, pes, wall):
    return {"network": name, "weights": weights, "input": f"{size[0]}x{size[1]}",
            "layers": t["layers"], "dense_macs": t["dense_macs"], "pes": pes,
            "positions_sampled": t["positions_simulated"], "cycles": t["cycles"],
            "time_us": t["time_us"], "images_per_s": t["images_per_s"], "total_energy_uj": t["total_energy_uj"],
            "load_efficiency": t["load_efficiency"], "pe_utilisation": t["pe_utilisation"],
            "real_over_total_work": t["real_over_total_work"],
            "broadcast_bound_share": t["broadcast_bound_share"], "top_layer": top["layer"],
            "top_share": top["share"], "n_weights": ct["n_weights"], "kept": ct["density"],
            "rate_pqh": ct["rate_pqh"], "stored_mb": ct["stored_bytes"] / 1e6, "wall_s": wall}


def _markdown(rows: list[dict]) -> str:
    head = ("| network | weights | input | param. layers | dense MACs | PEs | cycles / image | "
            "time (us) | images/s | energy (uJ) | load eff. | busy/(N T) | real/total work | "
            "broadcast-bound cycles | top layer (share) | weights | kept | rate P+Q+H | stored (MB) |")
    out = [head, "|" + "---|" * 19]
    for r in rows:
        out.append(f"| {r['network']} | {r['weights']} | {r['input']} | {r['layers']} | "
                   f"{r['dense_macs'] / 1e6:,.0f} M | {r['pes']} | {r['cycles']:,.0f} | "
                   f"{r['time_us']:,.0f} | {r['images_per_s']:,.1f} | {r['total_energy_uj']:,.0f} | "
                   f"{r['load_efficiency']:.3f} | {r['pe_utilisation']:.3f} | "
                   f"{r['real_over_total_work']:.3f} | {r['broadcast_bound_share']:.0%} | "
                   f"{r['top_layer']} ({r['top_share']:.0%}) | "
                   f"{r['n_weights'] / 1e6:.2f} M | {r['kept']:.1%} | {r['rate_pqh']:.2%} | "
                   f"{r['stored_mb']:.2f} |")
    return "\n".join(out) + "\n"


def _squeezenet_rows(positions: int, seed: int, data_dir) -> list[dict]:
    d = pathlib.Path(data_dir) if data_dir else DEFAULT_SQUEEZENET_DIR
    if not ((d / PROTOTXT_NAME).is_file() and (d / NET_NAME).is_file()):
        _say(f"squeezenet: SKIPPED, the authors' files are not in {d}")
        return []
    _, model = eie_sim.load_squeezenet(d)
    ct = accounting.model_table(model)[-1]
    rows = []
    for pes in PES:
        t0 = time.perf_counter()
        run = eie_sim.run_squeezenet(d, PAPER_CONFIG.replace(pes=pes), positions, seed)
        rows.append(_row("squeezenet", "REAL (authors' file)", (227, 227),
                         eie_sim.netrun_report.totals(run), run.top_layers(1)[0], ct, pes,
                         time.perf_counter() - t0))
    return rows


def main(outdir="results", positions: int = DEFAULT_POSITIONS, seed: int = 0,
         only: list[str] | None = None, data_dir=None) -> None:
    out = pathlib.Path(outdir) / "networks"
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    _say(f"SYNTHETIC weights (seeded, assumed Deep Compression-like densities) on the papers' "
         f"layer shapes; {positions} sampled output positions per layer (seed {seed}), totals "
         f"extrapolated; every simulated output checked against numpy.")
    rows = _squeezenet_rows(positions, seed, data_dir)
    for name in only or NETWORK_NAMES:
        t0 = time.perf_counter()
        case = eie_sim.load_network(name)
        _say(f"{name}: {case.size[0]}x{case.size[1]}, {len(case.net.weight_layers)} parameter "
             f"layers; built + weights + forward pass + Table 2 sizes in {case.build_s:.1f} s")
        for pes in PES:
            t1 = time.perf_counter()
            run = eie_sim.run_network_case(case, PAPER_CONFIG.replace(pes=pes), positions, seed)
            t = eie_sim.netrun_report.totals(run)
            rows.append(_row(name, "SYNTHETIC", case.size, t, run.top_layers(1)[0],
                             case.compressed[-1], pes, time.perf_counter() - t1 +
                             (time.perf_counter() - t0 if pes == PES[0] else 0.0)))
            eie_sim.write_bundle(out / f"{name}_pes{pes}", eie_sim.netrun_report.bundle_files(run),
                                 force=True)
            _say(f"  {pes} PEs: {t['cycles']:,.0f} cycles, {t['time_us']:,.0f} us, "
                 f"{t['total_energy_uj']:,.0f} uJ, load eff. {t['load_efficiency']:.3f}, "
                 f"busy/(N T) {t['pe_utilisation']:.3f}; top: " +
                 ", ".join(f"{x['layer']} {x['share']:.0%}" for x in run.top_layers(3)) +
                 f" ({time.perf_counter() - t1:.1f} s)")
    md = _markdown(rows)
    _say("")
    print(md, end="", flush=True)
    wall = time.perf_counter() - t_all
    note = (f"SYNTHETIC rows: random weights on the papers' shapes, densities assumed (docs/"
            f"networks.md); SqueezeNet: the authors' compressed weights. All rows: seeded "
            f"synthetic input image, {positions} sampled positions per layer, EXTRAPOLATED totals; "
            f"load eff. = 1 - starved/(N T); busy/(N T) = PE utilisation. Wall time {wall:.1f} s.")
    _say(note)
    eie_sim.write_bundle(out / "table", {"networks.md": "# Compact networks on EIE\n\n" + md + "\n" +
                                         note + "\n",
                                         "networks.csv": eie_sim.netrun_report.csv_text(rows, COLUMNS)},
                         force=True)
    _say(f"results: {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_networks",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results")
    ap.add_argument("--positions", type=int, default=DEFAULT_POSITIONS,
                    help=f"sampled output positions per layer (default {DEFAULT_POSITIONS})")
    ap.add_argument("--seed", type=int, default=0, help="seed of the position sample")
    ap.add_argument("--only", nargs="+", choices=NETWORK_NAMES, help="only these networks")
    ap.add_argument("--data", metavar="DIR", help="SqueezeNet folder")
    a = ap.parse_args()
    main(a.outdir, a.positions, a.seed, a.only, a.data)
