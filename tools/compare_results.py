"""Compare two ``make bench`` result folders cell by cell (a refactoring must change no figure).

    python tools/compare_results.py BEFORE/results AFTER/results [--ignore REGEX ...]

Every file present in either folder is compared:

* ``.csv``: the header, then every cell as text; a column whose name matches an
  ``--ignore`` pattern (default: measured wall-clock figures, :data:`MEASURED`) is skipped;
* ``.json``: flattened to ``key.path -> value``; numbers and strings compared exactly, keys
  matching an ignore pattern skipped;
* anything else (Markdown, PNG, ``.dcmp``): byte for byte, and reported as such (text files
  with measured times in them differ from run to run).

Prints one line per file (cells compared, cells that differ, by column) and the totals;
exits 1 when a compared cell differs or a file is missing on one side, else 0.
"""
from __future__ import annotations

import argparse
import csv
import json
import pathlib
import re
import sys

#: column / key names of figures measured on the machine (wall time, speed), not simulated
MEASURED = (r"wall", r"(^|_)ms($|_)", r"_s$", r"seconds", r"per_s(ec)?$", r"speedup", r"rate_x",
            r"throughput", r"^time_s", r"(^|_)cpu_", r"elapsed", r"vmhwm", r"rss", r"_mb_peak",
            r"^ratio$", r"^pid$")


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _ignored(name: str, patterns: list[re.Pattern]) -> bool:
    """Whether a column, or any part of a JSON key path, names a measured figure."""
    parts = [x for x in re.split(r"[.\[\]]", name) if x and not x.isdigit()] or [name]
    return any(p.search(part) for p in patterns for part in parts)


def compare_csv(a: pathlib.Path, b: pathlib.Path, patterns) -> tuple[int, dict[str, int], list[str]]:
    ra, rb = list(csv.reader(a.open(newline=""))), list(csv.reader(b.open(newline="")))
    problems = []
    if not ra or not rb or ra[0] != rb[0]:
        problems.append(f"header differs: {ra[0] if ra else []} vs {rb[0] if rb else []}")
        return 0, {}, problems
    if len(ra) != len(rb):
        problems.append(f"{len(ra) - 1} rows vs {len(rb) - 1}")
    head = ra[0]
    keep = [i for i, h in enumerate(head) if not _ignored(h, patterns)]
    cells, diffs = 0, {}
    for x, y in zip(ra[1:], rb[1:]):
        for i in keep:
            cells += 1
            if (x[i] if i < len(x) else None) != (y[i] if i < len(y) else None):
                diffs[head[i]] = diffs.get(head[i], 0) + 1
    return cells, diffs, problems


def compare_json(a: pathlib.Path, b: pathlib.Path, patterns) -> tuple[int, dict[str, int], list[str]]:
    fa, fb = _flatten(json.loads(a.read_text())), _flatten(json.loads(b.read_text()))
    problems = []
    only_a = sorted(k for k in fa if k not in fb and not _ignored(k, patterns))
    only_b = sorted(k for k in fb if k not in fa and not _ignored(k, patterns))
    if only_a:
        problems.append(f"keys only before: {only_a[:6]}{' ...' if len(only_a) > 6 else ''} ({len(only_a)})")
    if only_b:
        problems.append(f"keys only after: {only_b[:6]}{' ...' if len(only_b) > 6 else ''} ({len(only_b)})")
    cells, diffs = 0, {}
    for k in fa.keys() & fb.keys():
        if _ignored(k, patterns):
            continue
        cells += 1
        if fa[k] != fb[k]:
            key = re.sub(r"\[\d+\]", "[]", k)
            diffs[key] = diffs.get(key, 0) + 1
    return cells, diffs, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=pathlib.Path)
    ap.add_argument("after", type=pathlib.Path)
    ap.add_argument("--ignore", action="append", default=None, metavar="REGEX",
                    help="column/key name patterns to skip (default: measured wall-clock figures)")
    args = ap.parse_args(argv)
    for folder in (args.before, args.after):
        if not folder.is_dir():
            ap.error(f"{folder}: not a folder")      # never "0 compared, 0 differ" on a typo
    patterns = [re.compile(p) for p in (args.ignore if args.ignore is not None else MEASURED)]
    names = sorted({p.relative_to(args.before) for p in args.before.rglob("*") if p.is_file()}
                   | {p.relative_to(args.after) for p in args.after.rglob("*") if p.is_file()})
    total_cells = total_diffs = bad_files = 0
    for rel in names:
        a, b = args.before / rel, args.after / rel
        if not a.exists() or not b.exists():
            print(f"{rel}: only {'after' if b.exists() else 'before'}")
            bad_files += 1
            continue
        try:
            if rel.suffix == ".csv":
                cells, diffs, problems = compare_csv(a, b, patterns)
            elif rel.suffix == ".json":
                cells, diffs, problems = compare_json(a, b, patterns)
        except (ValueError, UnicodeDecodeError, csv.Error) as exc:   # a damaged file
            print(f"{rel}: cannot be read ({type(exc).__name__}: {exc})")
            bad_files += 1
            continue
        if rel.suffix not in (".csv", ".json"):
            same = a.read_bytes() == b.read_bytes()
            print(f"{rel}: bytes {'identical' if same else 'differ'}")
            continue
        total_cells += cells
        n = sum(diffs.values())
        total_diffs += n
        bad_files += bool(problems)
        detail = "; ".join(problems + [f"{k}: {v}" for k, v in sorted(diffs.items())])
        print(f"{rel}: {cells} compared, {n} differ" + (f" ({detail})" if detail else ""))
    print(f"total: {total_cells} cells/values compared, {total_diffs} differ, "
          f"{bad_files} file(s) missing or with a changed shape")
    return 1 if total_diffs or bad_files else 0


if __name__ == "__main__":
    sys.exit(main())
