"""Periodic densities on grids of another size.

:func:`grid_at` brings a stored density to the grid an evaluation,
a baseline or a validation is scored on.
"""

import numpy as np

__all__ = ["grid_at"]


def grid_at(grid, n):
    """A periodic density on an ``n``-grid.

    Parameters
    ----------
    grid : numpy.ndarray
        ``(m, m, m)`` density, point ``(i, j, k)`` at ``(i, j, k) / m``.
    n : int
        Wanted grid size.

    Returns
    -------
    numpy.ndarray
        ``(n, n, n)``: the grid itself, every ``m // n``-th point when ``n``
        divides ``m`` (exact values at the same positions), else a Fourier
        resampling (``pyrho.utils.interpolate_fourier``).
    """
    grid = np.asarray(grid)
    m = grid.shape[0]
    n = int(n)
    if n == m:
        return grid
    if m % n == 0:
        k = m // n
        return np.ascontiguousarray(grid[::k, ::k, ::k])
    from pyrho.utils import interpolate_fourier

    return interpolate_fourier(grid.astype(np.float64), [n, n, n]).astype(
        grid.dtype
    )
