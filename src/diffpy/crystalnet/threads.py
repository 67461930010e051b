"""Thread limits for the small dense problems of fits and refinements.

Measured on a shared 2-core machine: numpy/scipy BLAS with several threads
made the least-squares problems of the profile fits, the Pawley extraction
and the refinements 10-50x slower, never faster (the threads compete for
the cores with torch and with each other), so those run with one BLAS
thread.  ``threadpoolctl`` (a requirement) does the limiting; without it
the limit is a no-op.

A process that solves patterns side by side with others (a worker of
:func:`~diffpy.crystalnet.solver.batch.solve_many`) limits all of its
threads, torch's included, with :func:`limit_process_threads`: N workers on
N cores then use N threads, not N times the cores.
"""

import contextlib
import functools

__all__ = ["limit_process_threads", "one_blas_thread", "with_one_blas_thread"]


@functools.lru_cache(maxsize=None)
def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a requirement, but optional
        return None
    return ThreadpoolController()


def one_blas_thread():
    """A context in which BLAS uses one thread.

    The library scan of ``threadpoolctl`` runs once per process; entering
    the context afterwards costs microseconds.

    Returns
    -------
    contextlib.AbstractContextManager
        Use as ``with one_blas_thread(): ...``.
    """
    controller = _controller()
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def with_one_blas_thread(func):
    """Decorate a function to run in :func:`one_blas_thread`.

    Parameters
    ----------
    func : callable
        The function.

    Returns
    -------
    callable
        The wrapped function (name and docstring kept).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper


def limit_process_threads(threads=1):
    """Limit the threads of torch, BLAS and OpenMP in this process.

    For a process that does one job among others running at the same time
    on the same cores (a Dask worker of a batch).  The limit stays for the
    life of the process: the previous values are not restored, since tasks
    running side by side in one process would restore each other's.

    Parameters
    ----------
    threads : int, optional
        Threads per pool (default 1).

    Returns
    -------
    int
        The limit set.
    """
    threads = max(1, int(threads))
    try:
        import torch
    except ImportError:  # pragma: no cover - a requirement
        torch = None
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    controller = _controller()
    if controller is not None:
        controller.limit(limits=threads)
    return threads


# End of file
