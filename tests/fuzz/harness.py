"""Run fuzz cases in worker processes under time and memory limits; tabulate outcomes.

The parent (:func:`campaign`) hands case numbers to ``workers`` worker processes
(``python -m tests.fuzz.harness --worker``) one at a time over a pipe. A worker builds the
case itself from ``(seed, format, index)`` (:func:`tests.fuzz.corpus.make_case`), writes
it to a file, feeds it to its target (:mod:`tests.fuzz.targets`) and answers with one
outcome:

========================= ==============================================================
``clean error``           refused with the project's own error type, one line
``accepted identical``    read back exactly what the unmutated seed gives
``accepted, expected``    read back something else where that is the reader's job: the
                          mutation recomputed the checksums (forged), or the format
                          has no checksum (``.net``, YAML, an ``.npz``'s headers, ONNX,
                          safetensors, graph JSON, prototxt), or it equals the result
                          of a legitimately edited input (``case.expect``: a sweep
                          database with whole points removed, read by ``eie-plot``
                          as a sweep that recorded fewer)
``v1: moved section``     version-1 ``.dcmp`` sections moved (swapped, repeated,
``accepted``              reordered, from another file) where the content cannot tell:
                          version 1 binds no section to its position or file
``ACCEPTED DIFFERENT``    read back something else although the checksums were intact;
                          a sweep database's partial view or resumed export that differs
                          (tampered results shown or exported)
``TRACEBACK``             any other exception, or a message of more than one line (also
                          ``eie-plot`` writing into the sweep folder, a refused resume
                          leaving exported tables)
``HANG``                  over the time limit (an alarm in the worker, or the worker
                          killed by the parent when even that did not return)
``MEMORY``                a ``MemoryError`` under the worker's ``RLIMIT_AS`` cap
``CRASH``                 the worker died (a signal)
========================= ==============================================================

The memory cap is the worker's address space after warming up (every seed read once)
plus ``mem_cap_mb``; the readers' documented limits keep every legal allocation of these
small inputs far below it.
"""
from __future__ import annotations

import json
import os
import pathlib
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict

OUTCOMES = ("clean error", "accepted identical", "accepted, expected", "v1: moved section accepted",
            "ACCEPTED DIFFERENT", "TRACEBACK", "HANG", "MEMORY", "CRASH")
BAD = ("ACCEPTED DIFFERENT", "TRACEBACK", "HANG", "MEMORY", "CRASH")
ROOT = pathlib.Path(__file__).resolve().parents[2]

class _Timeout(BaseException):
    """Raised by the per-case alarm (a BaseException so no reader can swallow it)."""


def _on_alarm(signum, frame):
    raise _Timeout()


# ------------------------------------------------------------------------- worker
def _worker(seed: int, formats: list[str], soft_s: float, mem_cap_mb: int) -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)                       # library prints never reach the protocol
    import warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(ROOT))
    from tests.fuzz import corpus, targets

    seeds = corpus.build_seeds(formats)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="eie-fuzz-"))
    refs = {}
    for fmt in formats:                       # warm up (numba, imports) and reference results
        for s in seeds[fmt]:
            if s.target.startswith("selftest:"):
                refs[(fmt, s.name)] = (None, None)
                continue
            p = tmp / f"seed{s.ext}"
            p.write_bytes(s.data)
            refs[(fmt, s.name)] = (targets.run(s.target, str(p), info=s.info),
                                   targets.run(s.target, str(p), True, info=s.info)
                                   if s.target == "dcmp" else None)   # others: when needed
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * resource.getpagesize()
    cap = vm + mem_cap_mb * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))        # a crash leaves no core file
    signal.signal(signal.SIGALRM, _on_alarm)
    out.write(json.dumps({"ready": True, "cap_mb": cap >> 20}) + "\n")
    for line in sys.stdin:
        fmt, index = line.split()
        index = int(index)
        out.write(json.dumps(_one(seeds, refs, targets, fmt, seed, index, tmp, soft_s)) + "\n")


def _one(seeds, refs, targets, fmt, seed, index, tmp, soft_s) -> dict:
    from tests.fuzz import corpus
    return run_case(corpus.make_case(seeds, fmt, seed, index), refs, targets, tmp, soft_s)


def run_case(case, refs, targets, tmp, soft_s) -> dict:
    """Feed one case to its target and classify the outcome (:data:`OUTCOMES`); ``refs``:
    the seeds' results by ``(format, seed name)``, ``soft_s``: the alarm (needs the
    worker's SIGALRM handler)."""
    from tests.fuzz import corpus
    fmt, index = case.fmt, case.index
    res = {"fmt": fmt, "index": index, "seed": case.seed.name, "mutation": case.mutation}
    path = tmp / f"case{case.seed.ext}"
    path.write_bytes(case.data)
    every = targets.ALSO_EVERY.get(case.target)
    sim = bool(every) and index % every == 0
    if sim and refs[(fmt, case.seed.name)][1] is None:     # the second reader's reference
        seed_path = tmp / f"seed{case.seed.ext}"
        seed_path.write_bytes(case.seed.data)
        refs[(fmt, case.seed.name)] = (refs[(fmt, case.seed.name)][0],
                                       targets.run(case.target, str(seed_path), True, info=case.seed.info))
    t0 = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, soft_s)
    try:
        key = targets.run(case.target, str(path), sim, info=case.seed.info)
        signal.setitimer(signal.ITIMER_REAL, 0)
        ref = refs[(fmt, case.seed.name)][1 if sim else 0]
        if key == ref:
            res["outcome"] = "accepted identical"
        elif case.unbound:
            res["outcome"] = "v1: moved section accepted"
        elif case.expect is not None and key == _expected(targets, case, tmp, sim):
            res["outcome"] = "accepted, expected"       # e.g. a sweep with fewer points
        elif case.forged or fmt in ("net", "yaml", "prototxt", *corpus.IMPORT_FORMATS) or \
                case.target.startswith("npy"):
            res["outcome"] = "accepted, expected"
        elif fmt == "npz" and not _zip_data_changed(case.data, case.seed.data):
            res["outcome"] = "accepted, expected"       # headers edited: no checksum there
        else:
            res["outcome"] = "ACCEPTED DIFFERENT"
    except _Timeout:
        res["outcome"] = "HANG"
    except MemoryError:
        signal.setitimer(signal.ITIMER_REAL, 0)
        res["outcome"] = "MEMORY"
    except BaseException as exc:  # noqa: BLE001 - classifying every exception is the point
        signal.setitimer(signal.ITIMER_REAL, 0)
        msg = str(exc)
        if isinstance(exc, targets.CLEAN[case.target]) and msg and "\n" not in msg:
            res["outcome"] = "clean error"
        else:
            res["outcome"] = "TRACEBACK"
            res["detail"] = "".join(traceback.format_exception(exc)[-3:])[-800:]
        res["error"] = f"{type(exc).__name__}: {msg[:200]}"
    res["s"] = round(time.perf_counter() - t0, 4)
    return res


def _expected(targets, case, tmp, sim):
    """The result of the legitimately edited input (``case.expect``), or a marker that
    equals no result when that input is refused."""
    path = tmp / f"expect{case.seed.ext}"
    path.write_bytes(case.expect)
    try:
        return targets.run(case.target, str(path), sim, info=case.seed.info)
    except Exception:  # noqa: BLE001 - a refused legitimate input matches nothing
        return object()


def _zip_data_changed(data: bytes, orig: bytes) -> bool:
    """Whether the zip members' CRC-protected data differ (a mutation of headers only,
    e.g. a member name or a date, is not guarded by any checksum)."""
    import io
    import zipfile
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(io.BytesIO(orig)) as b:
            return sorted(i.CRC for i in a.infolist()) != sorted(i.CRC for i in b.infolist())
    except Exception:  # noqa: BLE001
        return True


# ------------------------------------------------------------------------- parent
class _Worker:
    def __init__(self, seed, formats, soft_s, mem_cap_mb, log):
        cmd = [sys.executable, "-m", "tests.fuzz.harness", "--worker", "--seed", str(seed),
               "--formats", ",".join(formats), "--soft", str(soft_s), "--mem-cap-mb", str(mem_cap_mb)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=log, text=True, bufsize=1)
        ready = json.loads(self.proc.stdout.readline() or "{}")
        if not ready.get("ready"):
            self.proc.wait()
            log.seek(0)
            raise RuntimeError("fuzz worker failed to start:\n" + log.read()[-3000:].decode("utf-8", "replace"))
        self.cap_mb = ready["cap_mb"]
        self.case = None
        self.started = 0.0

    def send(self, case):
        self.case, self.started = case, time.monotonic()
        self.proc.stdin.write(f"{case[0]} {case[1]}\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def campaign(cases: int, seed: int, formats=None, workers: int = 2, soft_s: float = 5.0,
             hard_s: float = 30.0, mem_cap_mb: int = 1024, progress=None) -> dict:
    """Run ``cases`` cases of every format; returns ``{"counts": {fmt: Counter},
    "examples": {(fmt, outcome): [result...]}, ...}``."""
    from tests.fuzz.corpus import FORMATS
    formats = list(formats or FORMATS)
    todo = [(f, i) for i in range(cases) for f in formats]
    todo.reverse()
    counts: dict[str, Counter] = defaultdict(Counter)
    examples: dict = defaultdict(list)
    times: dict[str, float] = defaultdict(float)
    log = tempfile.TemporaryFile()
    pool = [_Worker(seed, formats, soft_s, mem_cap_mb, log) for _ in range(max(1, workers))]
    sel = selectors.DefaultSelector()
    for w in pool:
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
    done = 0
    t0 = time.monotonic()

    def record(res):
        nonlocal done
        counts[res["fmt"]][res["outcome"]] += 1
        times[res["fmt"]] += res.get("s", 0.0)
        if res["outcome"] not in ("clean error", "accepted identical") and \
                len(examples[(res["fmt"], res["outcome"])]) < 5:
            examples[(res["fmt"], res["outcome"])].append(res)
        done += 1
        if progress and done % 1000 == 0:
            progress(f"{done}/{len(formats) * cases} cases, {time.monotonic() - t0:.0f} s")

    def replace(w, outcome):
        record({"fmt": w.case[0], "index": w.case[1], "outcome": outcome, "mutation": "?"})
        sel.unregister(w.proc.stdout)
        w.stop()
        nw = _Worker(seed, formats, soft_s, mem_cap_mb, log)
        pool[pool.index(w)] = nw
        sel.register(nw.proc.stdout, selectors.EVENT_READ, nw)
        return nw

    try:
        for w in pool:
            if todo:
                w.send(todo.pop())
        while any(w.case for w in pool):
            for key, _ in sel.select(timeout=1.0):
                w = key.data
                line = w.proc.stdout.readline()
                if not line:                               # the worker died
                    w = replace(w, "CRASH")
                else:
                    record(json.loads(line))
                w.case = None
                if todo:
                    w.send(todo.pop())
            now = time.monotonic()
            for w in list(pool):
                if w.case and now - w.started > hard_s:
                    nw = replace(w, "HANG")
                    nw.case = None
                    if todo:
                        nw.send(todo.pop())
    finally:
        for w in pool:
            w.stop()
        log.seek(0)
        tail = log.read()[-3000:].decode("utf-8", "replace")
        log.close()
    return {"counts": dict(counts), "examples": dict(examples), "seed": seed, "cases": cases,
            "formats": formats, "wall_s": time.monotonic() - t0, "cap_mb": pool[0].cap_mb,
            "times": dict(times), "log_tail": tail}


def table(result: dict) -> str:
    """The outcome table (Markdown): one row per format, one column per outcome."""
    cols = OUTCOMES
    head = "| format | cases | " + " | ".join(cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    total = Counter()
    for fmt in result["formats"]:
        c = result["counts"].get(fmt, Counter())
        total.update(c)
        lines.append(f"| {fmt} | {sum(c.values())} | " + " | ".join(str(c.get(o, 0)) for o in cols) + " |")
    lines.append(f"| all | {sum(total.values())} | " + " | ".join(str(total.get(o, 0)) for o in cols) + " |")
    return "\n".join(lines)


def bad_count(result: dict) -> int:
    return sum(c.get(o, 0) for c in result["counts"].values() for o in BAD)


def _main_worker(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--worker", action="store_true")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--formats", required=True)
    p.add_argument("--soft", type=float, default=5.0)
    p.add_argument("--mem-cap-mb", type=int, default=1024)
    a = p.parse_args(argv)
    _worker(a.seed, a.formats.split(","), a.soft, a.mem_cap_mb)


if __name__ == "__main__":
    _main_worker(sys.argv[1:])
