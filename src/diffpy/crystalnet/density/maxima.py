"""Density maxima on a periodic grid, with non-maximum suppression.

Atoms often sit between grid points (a quarter of a 50-point cell edge is
12.5 points), where a density peak shows up as two to eight voxels of equal
height.  :func:`find_density_maxima` finds the periodic local maxima, keeps
the highest of any group closer than ``min_distance`` (non-maximum
suppression, with periodic minimum-image distances in angstrom) and refines
each kept maximum to sub-voxel precision with a least-squares quadratic fit
to the logarithm of the density over the 27 voxels around it (exact for a
Gaussian peak of any shape and orientation; a parabola per axis where the
density is not positive).
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import lattice_matrix

__all__ = ["DEFAULT_MIN_DISTANCE", "DEFAULT_THRESHOLD", "find_density_maxima"]

#: smallest distance in angstrom between two reported maxima
DEFAULT_MIN_DISTANCE = 0.7
#: smallest density in e/angstrom**3 a maximum must reach
DEFAULT_THRESHOLD = 0.1


_STEPS = np.array(np.meshgrid(*[[-1, 0, 1]] * 3, indexing="ij"))
_STEPS = _STEPS.reshape(3, -1).T
_DESIGN = np.column_stack(
    [np.ones(27), _STEPS]
    + [_STEPS[:, i] * _STEPS[:, j] for i in range(3) for j in range(i, 3)]
)
_PINV = np.linalg.pinv(_DESIGN)


def _refine(grid, index):
    """Sub-voxel offset (in voxels) of the maximum at ``index``.

    A quadratic in three dimensions is fitted by least squares to the
    logarithm of the 27 values around the maximum (exact for a Gaussian of
    any orientation, which matters in oblique cells); where some value is not
    positive or the fit has no maximum, a parabola per axis is used.
    """
    shape = np.array(grid.shape)
    pts = np.mod(index + _STEPS, shape)
    vals = grid[pts[:, 0], pts[:, 1], pts[:, 2]]
    if np.all(vals > 0):
        coef = _PINV @ np.log(vals)
        grad = coef[1:4]
        c = coef[4:]
        hess = np.array(
            [
                [2 * c[0], c[1], c[2]],
                [c[1], 2 * c[3], c[4]],
                [c[2], c[4], 2 * c[5]],
            ]
        )
        if np.all(np.linalg.eigvalsh(hess) < 0):
            offset = -np.linalg.solve(hess, grad)
            if np.all(np.abs(offset) <= 1.0):
                return offset
    offset = np.zeros(3)
    centre = vals[13]
    for ax in range(3):
        lo = vals[13 - 3 ** (2 - ax)]
        hi = vals[13 + 3 ** (2 - ax)]
        curv = lo - 2.0 * centre + hi
        if curv < 0:
            offset[ax] = np.clip(0.5 * (lo - hi) / curv, -0.5, 0.5)
    return offset


def find_density_maxima(
    grid,
    lattice,
    min_distance=DEFAULT_MIN_DISTANCE,
    threshold=DEFAULT_THRESHOLD,
    max_peaks=None,
):
    """Find the maxima of a periodic density with non-maximum suppression.

    Parameters
    ----------
    grid : array_like
        ``(n1, n2, n3)`` density, element ``[i, j, k]`` at fractional
        ``(i/n1, j/n2, k/n3)``.
    lattice : pymatgen.core.Lattice or array_like
        The cell (rows of a 3x3 matrix are the cell vectors, angstrom).
    min_distance : float, optional
        Two maxima closer than this (angstrom, periodic) are one: the lower
        is dropped.  Default 0.7, below the shortest bonds (O-H 0.96).
    threshold : float, optional
        Maxima below this density are ignored (default 0.1 e/angstrom**3,
        below the peak of a hydrogen atom at B = 5 of about 0.5).
    max_peaks : int, optional
        Keep at most this many (the highest).

    Returns
    -------
    frac : numpy.ndarray
        ``(m, 3)`` fractional coordinates in [0, 1), highest peak first.
    heights : numpy.ndarray
        ``(m,)`` grid value at each kept maximum.

    Raises
    ------
    CrystalNetInputError
        For a grid that is not 3D and finite, or a degenerate lattice.
    """
    from scipy.ndimage import maximum_filter

    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 3 or not np.all(np.isfinite(grid)):
        raise CrystalNetInputError("expected a finite 3D grid", "grid")
    matrix = lattice_matrix(lattice)
    shape = np.array(grid.shape)
    local = maximum_filter(grid, size=3, mode="wrap")
    mask = (grid >= local) & (grid > threshold)
    idx = np.argwhere(mask)
    heights = grid[mask]
    order = np.argsort(-heights, kind="stable")
    idx, heights = idx[order], heights[order]
    frac = idx / shape
    kept = []
    for i in range(len(idx)):
        if kept:
            d = frac[kept] - frac[i]
            d -= np.rint(d)
            if np.min(np.linalg.norm(d @ matrix, axis=1)) < min_distance:
                continue
        kept.append(i)
        if max_peaks is not None and len(kept) >= max_peaks:
            break
    out = np.array(
        [(idx[i] + _refine(grid, idx[i])) / shape for i in kept]
    ).reshape(-1, 3)
    return np.mod(out, 1.0), heights[kept]


# End of file
