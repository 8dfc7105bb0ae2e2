"""``python -m tests.fuzz`` (``make fuzz``): the long fuzz campaign and its outcome table.

Exit status 0 when no case ended in one of the bad outcomes (ACCEPTED DIFFERENT,
TRACEBACK, HANG, MEMORY, CRASH), else 1 (examples of each are printed).
"""
from __future__ import annotations

import argparse
import random
import sys

from tests.fuzz.corpus import FORMATS, build_seeds, describe_seeds
from tests.fuzz.harness import BAD, bad_count, campaign, table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=10_000, help="cases per format (default 10,000)")
    p.add_argument("--seed", type=int, help="campaign seed (default: random, printed)")
    p.add_argument("--formats", default=",".join(FORMATS), help=f"comma list of {', '.join(FORMATS)}")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--soft", type=float, default=5.0, help="per-case time limit (s) in the worker")
    p.add_argument("--hard", type=float, default=30.0, help="time after which a worker is killed (s)")
    p.add_argument("--mem-cap-mb", type=int, default=1024,
                   help="memory a case may allocate above the worker's warmed-up size (MiB)")
    a = p.parse_args(argv)
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2 ** 31)
    formats = [f for f in a.formats.split(",") if f]
    print(f"fuzz seed {seed} ({a.cases} cases per format, formats {', '.join(formats)}; "
          f"rerun: python -m tests.fuzz --seed {seed} --cases {a.cases})", flush=True)
    print(f"seeds: {describe_seeds(build_seeds(formats))}", flush=True)
    res = campaign(a.cases, seed, formats, a.workers, a.soft, a.hard, a.mem_cap_mb,
                   progress=lambda s: print(s, flush=True))
    print(f"\n{table(res)}\n")
    print(f"{res['wall_s']:.0f} s on {a.workers} workers; memory cap {res['cap_mb']} MiB of "
          f"address space per worker; time limit {a.soft:g} s per case ({a.hard:g} s hard)")
    for (fmt, outcome), exs in sorted(res["examples"].items()):
        if outcome in BAD:
            print(f"\n{fmt} {outcome}:")
            for e in exs:
                print(f"  case {e['index']} (seed {e.get('seed')}, {e.get('mutation')}): "
                      f"{e.get('error', '')}\n    {e.get('detail', '').strip()[-400:]}")
    n = bad_count(res)
    print(f"\n{'OK' if not n else 'FAILED'}: {n} cases with a bad outcome")
    return 0 if not n else 1


if __name__ == "__main__":
    sys.exit(main())
