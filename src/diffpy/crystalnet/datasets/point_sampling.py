"""Query-point sampling on a CMED grid (the paper's stratified sampling).

The unit cell's ``n^3`` grid is cut into ``m^3`` equal blocks (strata); one
grid point is drawn uniformly inside each block, so every region of the cell
is visited each step while the points stay random.  Sampling grid points
(rather than continuous positions) keeps the targets exact: no interpolation
of the stored density is needed.  Optionally a fraction of the points is
drawn with probability proportional to the density, which concentrates the
loss on the atoms of sparse, mostly empty cells.
"""

import numpy as np

__all__ = ["stratified_indices", "density_weighted_indices", "sample_points"]


def stratified_indices(n, strata, rng):
    """Draw one grid point in each of ``strata^3`` blocks of an n^3 grid.

    Parameters
    ----------
    n : int
        Grid points per axis.
    strata : int
        Blocks per axis (at most ``n``); ``strata^3`` points are returned.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    numpy.ndarray
        Integer grid indices, shape (strata^3, 3).
    """
    if not 1 <= strata <= n:
        raise ValueError(f"strata must be in 1..{n}, not {strata}")
    edges = np.linspace(0, n, strata + 1).round().astype(int)
    low, width = edges[:-1], np.diff(edges)
    a, b, c = np.meshgrid(
        np.arange(strata), np.arange(strata), np.arange(strata), indexing="ij"
    )
    blocks = np.stack([a.ravel(), b.ravel(), c.ravel()], axis=1)
    offsets = np.floor(rng.random(blocks.shape) * width[blocks]).astype(int)
    return low[blocks] + offsets


def density_weighted_indices(grid, count, rng):
    """Draw grid points with probability proportional to the density.

    Parameters
    ----------
    grid : numpy.ndarray
        Density, shape (n, n, n); negative values count as zero.
    count : int
        Number of points.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    numpy.ndarray
        Integer grid indices, shape (count, 3).
    """
    weights = np.clip(grid, 0, None).ravel().astype(float)
    total = weights.sum()
    if total <= 0:
        flat = rng.integers(0, grid.size, count)
    else:
        flat = rng.choice(grid.size, size=count, p=weights / total)
    return np.stack(np.unravel_index(flat, grid.shape), axis=1)


def sample_points(grid, strata, rng, density_fraction=0.0):
    """Sample query points and their target densities from a CMED grid.

    Parameters
    ----------
    grid : numpy.ndarray
        Density, shape (n, n, n), grid point (i, j, k) at fractional
        coordinates (i/n, j/n, k/n).
    strata : int
        Blocks per axis of the stratified part.
    rng : numpy.random.Generator
        Random source.
    density_fraction : float, optional
        Fraction of the ``strata^3`` points drawn proportionally to the
        density instead (0 reproduces the paper).

    Returns
    -------
    points : numpy.ndarray
        Fractional coordinates, shape (strata^3, 3), float32.
    values : numpy.ndarray
        Densities at those points, shape (strata^3,), float32.
    """
    n = grid.shape[0]
    total = strata**3
    weighted = int(round(density_fraction * total))
    index = stratified_indices(n, strata, rng)
    if weighted:
        keep = rng.choice(total, size=total - weighted, replace=False)
        index = np.concatenate(
            [
                index[np.sort(keep)],
                density_weighted_indices(grid, weighted, rng),
            ]
        )
    values = grid[index[:, 0], index[:, 1], index[:, 2]]
    return (index / n).astype(np.float32), values.astype(np.float32)
