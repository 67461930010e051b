"""Thread limits for the small dense problems of fits and refinements.

Measured on a shared 2-core machine: numpy/scipy BLAS with several threads
made the least-squares problems of the profile fits, the Pawley extraction
and the refinements 10-50x slower, never faster (the threads compete for
the cores with torch and with each other), so those run with one BLAS
thread.  ``threadpoolctl`` (a requirement) does the limiting; without it
the limit is a no-op.
"""

import contextlib
import functools

__all__ = ["one_blas_thread", "with_one_blas_thread"]


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


# End of file
