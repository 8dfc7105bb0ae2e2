"""Where sweep points run: ``run.executor: local`` (processes here) or ``dask``.

Both take the same tasks (a few points each, :func:`eie_sim.apps.sweep_points.run_points`)
and hand every finished point to the same callback in the parent (which commits it to
the database), so the results do not depend on the executor. The workloads are shipped
to each worker **once**: the local pool's initializer receives them when a worker
starts; dask gets them with ``client.scatter(..., broadcast=True)`` and every task refers
to that one future. Workloads built while the sweep runs (a search over a density range,
:data:`eie_sim.arch.sweep_spec.DENSITY_STEP`) are handed over with
:meth:`LocalExecutor.add_workloads` / :meth:`DaskExecutor.add_workloads`: dask scatters
each new batch of them to every worker once; the local worker processes receive a new
workload with each task that needs it (cached there by its key).

* ``local``: ``run.workers`` spawned processes (one: in this process). Workers die with
  their parent: each ignores SIGINT (the parent handles it), asks the kernel for SIGKILL
  when its parent dies (Linux ``PR_SET_PDEATHSIG``) and watches its parent process id
  (any system), so a ``kill -9`` of ``eie-sweep`` leaves no worker (and so no resource
  tracker) behind; on an exception or SIGINT/SIGTERM in the parent the workers are
  terminated before it exits.
* ``dask``: ``dask.distributed``; a ``LocalCluster`` of ``run.workers`` single-threaded
  worker processes (no dashboard) when ``run.scheduler`` is null, else the cluster at
  that address (given only by ``eie-sweep --scheduler``, never by a file: docs/cluster.md). A task lost with its worker is rerun by the
  scheduler; the database keeps a point once however often it arrives. The
  LocalCluster runs without dask's Active Memory Manager (its ReduceReplicas policy drops
  the broadcast workload copies between tasks, measured, and the workers fetch them
  again); a cluster at ``run.scheduler`` keeps its own setting. The LocalCluster's
  worker processes start with SIGINT blocked (:func:`sigint_held`: a terminal's Ctrl-C
  is handled by ``eie-sweep`` alone, also one pressed while they start) and end with it,
  also on ``kill -9`` (measured: none left 8 s after).

At most a few tasks per worker are in flight; the rest wait in the parent.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from typing import Any, Callable, Iterator

from eie_sim.apps.sweep_points import PointResult, PointTask, run_points
from eie_sim.arch.config_io import RunOptions
from eie_sim.errors import ConfigError

#: this process's workloads (local worker processes): workload key -> Workload or message
_WORKLOADS: dict[str, Any] = {}
#: tasks in flight per worker
IN_FLIGHT = 3


def chunk_size(n: int, workers: int) -> int:
    """Points per task: a few, so that per-task overhead stays small on cheap points and
    every worker still gets many tasks."""
    return max(1, min(8, n // max(1, workers * 16)))


def _chunks(tasks: Iterator[PointTask], size: int) -> Iterator[list[PointTask]]:
    buf: list[PointTask] = []
    for t in tasks:
        buf.append(t)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.25)
        if os.getppid() != parent:       # re-parented: the sweep process is gone
            os._exit(1)


def _worker_init(parent: int, workloads: dict[str, Any]) -> None:
    """Receive the sweep's workloads and make the worker die with its parent."""
    _WORKLOADS.clear()
    _WORKLOADS.update(workloads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError, TypeError):   # not Linux: the watcher thread remains
        pass
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="eie-sweep-parent-watch").start()


def _local_points(tasks: list[PointTask], late: dict[str, Any] | None = None) -> list[PointResult]:
    if late:
        _WORKLOADS.update(late)
    return run_points(tasks, _WORKLOADS)


def _dask_points(tasks: list[PointTask], *packs: dict[str, Any]) -> list[PointResult]:
    """:func:`run_points` with the workloads of the scattered ``packs`` (dicts)."""
    workloads: dict[str, Any] = {}
    for p in packs:
        workloads.update(p)
    return run_points(tasks, workloads)


def _stop_workers(ex: cf.ProcessPoolExecutor) -> None:
    """End the worker processes now and cancel what is queued (on an error or a signal)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=2)
        if p.is_alive():
            p.kill()
            p.join(timeout=2)
    ex.shutdown(wait=True, cancel_futures=True)


class LocalExecutor:
    """``workers`` spawned local processes (1: this process), kept for every :meth:`run`."""

    def __init__(self, workers: int, workloads: dict[str, Any]):
        self.workers, self.workloads, self.ex = workers, workloads, None
        self.late: dict[str, Any] = {}       # built after the workers started
        if workers > 1:
            ctx = multiprocessing.get_context("spawn")
            try:
                with sigint_held():          # the workers start with SIGINT blocked
                    self.ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                     initializer=_worker_init,
                                                     initargs=(os.getpid(), workloads))
                    for f in [self.ex.submit(os.getpid) for _ in range(workers)]:  # start them all
                        f.result()
            except BaseException:
                self.abort()
                raise

    def run(self, tasks: Iterator[PointTask], n: int,
            on_result: Callable[[PointResult], None]) -> None:
        """Run ``tasks`` (``n`` of them); ``on_result`` gets every finished point."""
        if self.ex is None:
            for t in tasks:
                for r in run_points([t], self.workloads):
                    on_result(r)
            return
        ex = self.ex
        chunks = _chunks(tasks, chunk_size(n, self.workers))
        try:
            pending: set = set()

            def submit_next() -> None:
                c = next(chunks, None)
                if c is not None:
                    keys = (t.point.workload_key for t in c)
                    late = {k: self.late[k] for k in keys if k in self.late}
                    pending.add(ex.submit(_local_points, c, late))
            for _ in range(IN_FLIGHT * self.workers):
                submit_next()
            while pending:
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    pending.discard(fut)
                    for r in fut.result():
                        on_result(r)
                    submit_next()
        except BaseException:
            self.abort()
            raise

    def add_workloads(self, new: dict[str, Any]) -> None:
        """Workloads built after the workers started (module docstring)."""
        self.workloads.update(new)
        if self.ex is not None:
            self.late.update(new)

    def abort(self) -> None:
        if self.ex is not None:
            _stop_workers(self.ex)
            self.ex = None

    def close(self) -> None:
        if self.ex is not None:
            self.ex.shutdown(wait=True)
            self.ex = None


def dask_client(workers: int, scheduler: str | None, processes: bool = True):
    """A ``distributed.Client``: to ``scheduler``, or to a new LocalCluster of ``workers``
    single-threaded workers without a dashboard. Returns (client, cluster or None)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("run.executor: dask needs dask.distributed "
                          "(pip install 'dask[distributed]')") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler: cannot reach the dask scheduler at {scheduler} "
                              f"({exc})") from None
    import dask
    cluster = client = None
    try:
        # no Active Memory Manager: its ReduceReplicas policy drops the broadcast copies of
        # the workloads between tasks, and the workers then fetch them again (measured)
        with sigint_held(), dask.config.set(
                {"distributed.scheduler.active-memory-manager.start": False}):
            # no dashboard, and the scheduler's HTTP server (health routes, started even
            # without one) on a free local port rather than dask's fixed 8787, which another
            # cluster on the machine may hold ("Port 8787 is already in use" on stderr)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                   dashboard_address=None, silence_logs=logging.ERROR,
                                   scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        client = Client(cluster)             # a Ctrl-C held back meanwhile is raised by now
        # dask's own ERROR lines silenced in the worker processes too (silence_logs does not
        # reach them): a failed point reaches eie-sweep as its task's exception, and the
        # teardown after a Ctrl-C ("Failed to communicate with scheduler during heartbeat")
        # is expected, not news
        client.run(_quiet_dask_logs)
        return client, cluster
    except BaseException:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        raise


def _quiet_dask_logs() -> None:
    """In a dask worker process: only CRITICAL lines of ``distributed``'s loggers."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def sigint_held():
    """SIGINT held back while worker processes start, then delivered.

    SIGINT is blocked (``pthread_sigmask``) in this thread: the threads and processes
    started meanwhile inherit the blocked mask, so a terminal's Ctrl-C (sent to the whole
    process group) never reaches them; eie-sweep alone handles it and stops them. Threads
    that existed before may still take the signal, so its Python handler meanwhile only
    notes it. A Ctrl-C pressed meanwhile is then handed to the previous handler
    (KeyboardInterrupt) as soon as the workers have started, instead of being dropped (as
    with SIGINT ignored). Not in the main thread: only the mask.

    multiprocessing's resource tracker is started first: starting it unblocks SIGINT
    (and SIGTERM) in the thread that starts it (measured: every dask worker process then
    started with SIGINT deliverable and died of a Ctrl-C with a traceback)."""
    try:
        from multiprocessing import resource_tracker
        resource_tracker.ensure_running()
    except (ImportError, OSError, AttributeError):
        pass
    got: list[int] = []
    try:
        old = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    except ValueError:                  # not the main thread
        old = None
    try:
        was = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, OSError, ValueError):
        was = {signal.SIGINT}           # cannot block: leave the mask alone
    try:
        yield
    finally:
        if signal.SIGINT not in was:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        if old is not None:
            signal.signal(signal.SIGINT, old)
            if got and callable(old):
                old(signal.SIGINT, None)        # default_int_handler: KeyboardInterrupt
            elif got and old == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)


class DaskExecutor:
    """A dask cluster (see the module docstring), kept for every :meth:`run`."""

    def __init__(self, workers: int, workloads: dict[str, Any], scheduler: str | None = None,
                 processes: bool = True):
        self.client, self.cluster = dask_client(workers, scheduler, processes)
        try:
            info = self.client.scheduler_info().get("workers", {})
            self.workers = max(1, len(info) or workers)
            self.wl = self.client.scatter([workloads], broadcast=True)[0]   # once per worker
            #: workload key -> the future of the scattered dict that holds it
            self.packs = dict.fromkeys(workloads, self.wl)
        except BaseException:
            self.close()
            raise

    def add_workloads(self, new: dict[str, Any]) -> None:
        """Workloads built after the start: scattered to every worker once, together."""
        new = {k: v for k, v in new.items() if k not in self.packs}
        if new:
            fut = self.client.scatter([new], broadcast=True)[0]
            self.packs.update(dict.fromkeys(new, fut))

    def run(self, tasks: Iterator[PointTask], n: int,
            on_result: Callable[[PointResult], None]) -> None:
        from distributed import as_completed
        chunks = _chunks(tasks, chunk_size(n, self.workers))
        ac = as_completed()

        def submit_next() -> None:
            c = next(chunks, None)
            if c is not None:
                packs = list({f.key: f for f in (self.packs[t.point.workload_key] for t in c)}.values())
                ac.add(self.client.submit(_dask_points, c, *packs, pure=False))
        for _ in range(IN_FLIGHT * self.workers):
            submit_next()
        for fut in ac:
            for r in fut.result():
                on_result(r)
            fut.release()
            submit_next()

    def abort(self) -> None:
        """Stop at once (Ctrl-C): the cancelled work is expected, so the scheduler's own
        ERROR lines about it ("Couldn't gather keys") are not printed over eie-sweep's
        message."""
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None


def make_executor(run: RunOptions, n: int, workloads: dict[str, Any], processes: bool = True):
    """The executor ``run.executor`` names, with at most ``n`` local workers."""
    if run.executor == "dask":
        return DaskExecutor(run.workers, workloads, run.scheduler, processes)
    return LocalExecutor(min(run.workers, max(1, n)), workloads)
