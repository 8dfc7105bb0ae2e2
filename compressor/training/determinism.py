"""Making training independent of the BLAS where it is cheap, and recording the BLAS.

The trainer's matrix products go through numpy's BLAS (OpenBLAS in the numpy wheels).
Two things about it change float32 results, and hence the pruning masks, the k-means
codebooks and the bytes of a ``.dcmp`` file:

* **the thread count**: OpenBLAS splits a product over its threads, and the split it
  chooses changes the order of the additions. Measured on this project's LeNet-300-100
  (seed 0): 1 thread gave a 28,806-byte file, 2 threads a 28,751-byte one. Every
  training and evaluation of the pipeline therefore runs under :func:`pinned_blas`
  (threadpoolctl: :data:`TRAINING_BLAS_THREADS` thread), in the library path, not
  only in the command-line tool;
* **the kernel the BLAS picks for the CPU** (OpenBLAS's ``architecture``: Haswell,
  SkylakeX, Zen...): each kernel blocks the sums differently. This cannot be changed
  once numpy is loaded (``OPENBLAS_CORETYPE`` must be set before), so it is *recorded*
  (:func:`blas_info`) in every report, beside the file, not inside it: two files
  can only be expected to be equal when their reports show the same BLAS
  architecture and version (docs/studies.md, "Reproducibility").

The reductions that decide pruning (the std of the NIPS 2015 quality rule,
:func:`compressor.prune.threshold_for_quality`) accumulate in float64; the target
density rule compares magnitudes only (no sums).
"""
from __future__ import annotations

import contextlib
import functools
import platform
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

try:       # threadpoolctl comes with scikit-learn; without it the threads cannot be pinned
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - installed with the bench extra
    threadpool_info = threadpool_limits = None

#: BLAS threads of every training step and evaluation of the pipeline
TRAINING_BLAS_THREADS = 1

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def pinned_blas(threads: int = TRAINING_BLAS_THREADS) -> Iterator[None]:
    """Run the body with every loaded BLAS limited to ``threads`` threads (restored after).

    Without threadpoolctl the body runs unpinned (:func:`blas_info` says so)."""
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=int(threads), user_api="blas"):
        yield


def with_pinned_blas(fn: F) -> F:
    """Decorator: ``fn`` runs under :func:`pinned_blas` (nesting is harmless)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with pinned_blas():
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def blas_info() -> dict[str, Any]:
    """The BLAS numpy uses (library, version, architecture, threads available and the
    threads training uses), numpy's version and the machine, for reports."""
    libs = [{k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                      "threading_layer")}
            for lib in (threadpool_info() if threadpool_info is not None else [])
            if lib.get("user_api") == "blas"]
    return {"numpy": np.__version__, "blas": libs,
            "training_blas_threads": TRAINING_BLAS_THREADS if threadpool_limits else "unpinned "
            "(threadpoolctl not installed)", "accumulation": accumulation_dtype(),
            "machine": platform.machine(), "processor": platform.processor() or None}


def format_blas(info: dict[str, Any] | None = None) -> str:
    """One line naming each BLAS (library, version, CPU kernel, threads), the training
    threads, the accumulation dtype, numpy's version and the machine."""
    info = info if info is not None else blas_info()
    libs = "; ".join(f"{b['internal_api']} {b['version']} ({b['architecture']}, "
                     f"{b['num_threads']} threads outside training)" for b in info["blas"]) or "no BLAS found"
    return (f"{libs}; training BLAS threads: {info['training_blas_threads']}; products "
            f"accumulated in {info.get('accumulation')}; numpy {info['numpy']}; {info['machine']}")


# ------------------------------------------------------------------ matrix products
#: dtype the trainer's matrix products accumulate in (results are rounded back to float32)
_ACCUMULATE = [np.float64]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of float32 operands, accumulated in float64 and rounded to float32
    (operands of any other dtype: a plain ``a @ b``).

    A float32 product of two float32 numbers is exact in float64, and the float64 sums
    of different BLAS kernels differ by far less than half a float32 step, so the
    rounded result no longer depends on the kernel's order of additions (measured:
    LeNet-300-100 gives the same file with OpenBLAS's Haswell and SkylakeX kernels, and
    different files in float32). Costs about twice the float32 product's time.
    :func:`accumulation` switches back to float32 products (for comparisons)."""
    dt = _ACCUMULATE[0]
    out = np.result_type(a, b)            # float64 operands (gradient checks) stay float64
    if dt is np.float32 or out != np.float32:
        return a @ b
    return (a.astype(dt) @ b.astype(dt)).astype(np.float32)


@contextlib.contextmanager
def accumulation(dtype: Any) -> Iterator[None]:
    """Run the body with the trainer's products in ``dtype`` (``np.float64`` or ``np.float32``)."""
    dtype = np.dtype(dtype).type
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"accumulation dtype must be float32 or float64, got {dtype}")
    old = _ACCUMULATE[0]
    _ACCUMULATE[0] = dtype
    try:
        yield
    finally:
        _ACCUMULATE[0] = old


def accumulation_dtype() -> str:
    return np.dtype(_ACCUMULATE[0]).name
