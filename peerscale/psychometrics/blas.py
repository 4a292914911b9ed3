"""Single-threaded BLAS for the small matrices of the psychometrics code.

The matrices here are k × k or p × p with k, p ≤ ~100, where BLAS threads cost more than they
save: a 54 × 54 SVD took 92 ms with two threads on a busy two-core machine and 0.6 ms with
one; a 100,000 × 54 alpha 8.3 s against 0.6 s; an EFA about 8× longer. The limit is set with
threadpoolctl and lifted again on exit.
"""

from __future__ import annotations

import functools


def single_threaded_blas():
    """Context manager limiting BLAS to one thread (threadpoolctl's ``threadpool_limits``)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def single_threaded(func):
    """Decorator: run ``func`` under :func:`single_threaded_blas`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return func(*args, **kwargs)
    return wrapper
