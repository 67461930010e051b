"""Metrics for predicted densities and structures.

Image metrics, as in the CrystalNet paper (Guo et al. 2024):

* :func:`ssim3d`: 3D structural similarity with a 7-voxel uniform window,
  ``data_range = truth.max() - truth.min()``, K1 = 0.01, K2 = 0.03.  The
  window wraps around the cell (``boundary="wrap"``, default): the grid is
  periodic, so the neighbourhood of a voxel on a face is on the opposite
  face, and every voxel counts once.  ``boundary="reflect"`` reproduces
  ``skimage.metrics.structural_similarity`` (mirror padding, border of 3
  voxels cropped before averaging).
* :func:`psnr`: ``10 log10((max - min)**2 / MSE)`` with the range of the
  truth (paper eq. 9); ``inf`` for a perfect prediction.
* :func:`best_over_rotations`: the best score over the 24 proper rotations
  of the grid (:data:`CUBE_ROTATIONS`).

Both image metrics are inflated by the empty space between atoms: an
all-zero prediction scores SSIM of about 0.9 on simple crystals.  Report
them next to trivial baselines (``scripts/baseline_metrics.py``) and judge
structures with :func:`atom_recovery` and :func:`structure_match`.
"""

import itertools

import numpy as np

from diffpy.crystalnet.density.maxima import find_density_maxima
from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "CUBE_ROTATIONS",
    "apply_rotation",
    "atom_recovery",
    "best_over_rotations",
    "cube_rotations",
    "pearson",
    "psnr",
    "ssim3d",
    "structure_match",
]


def _pair(pred, truth):
    pred = np.asarray(pred, dtype=float)
    truth = np.asarray(truth, dtype=float)
    if pred.shape != truth.shape or truth.ndim != 3:
        raise CrystalNetInputError(
            f"expected two 3D grids of one shape, got {pred.shape} and "
            f"{truth.shape}",
            source="pred",
        )
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(truth))):
        raise CrystalNetInputError("the grids have NaN or inf", "pred")
    return pred, truth


def _data_range(truth, data_range):
    if data_range is None:
        data_range = float(truth.max() - truth.min())
    if not data_range > 0:
        raise CrystalNetInputError(
            "the truth is constant: data range is zero", source="truth"
        )
    return float(data_range)


def ssim3d(
    pred,
    truth,
    window=7,
    data_range=None,
    k1=0.01,
    k2=0.03,
    boundary="wrap",
):
    """3D structural similarity (SSIM) of two grids.

    Parameters
    ----------
    pred, truth : array_like
        Grids of one 3D shape.
    window : int, optional
        Side of the cubic uniform window in voxels (default 7, odd).
    data_range : float, optional
        Dynamic range L; default ``truth.max() - truth.min()``.
    k1, k2 : float, optional
        SSIM constants, C1 = (k1 L)**2, C2 = (k2 L)**2.
    boundary : {"wrap", "reflect"}, optional
        ``"wrap"``: periodic windows, mean over all voxels (default, right
        for a periodic cell).  ``"reflect"``: mirror padding and the border
        cropped, as scikit-image does.

    Returns
    -------
    float
        The mean SSIM; 1 for identical grids.

    Notes
    -----
    Local means, variances and covariance are uniform-window averages,
    with the sample-covariance factor ``N / (N - 1)`` (N = window**3), as
    in Wang et al. (2004) and scikit-image.
    """
    from scipy.ndimage import uniform_filter

    pred, truth = _pair(pred, truth)
    window = int(window)
    if window < 2 or window % 2 == 0 or window > min(truth.shape):
        raise CrystalNetInputError(
            f"window must be odd, >= 3 and fit the grid, got {window}",
            source="window",
        )
    if boundary not in ("wrap", "reflect"):
        raise CrystalNetInputError(
            f"boundary must be 'wrap' or 'reflect', not {boundary!r}",
            source="boundary",
        )
    rng = _data_range(truth, data_range)

    def mean(x):
        return uniform_filter(x, size=window, mode=boundary)

    npts = window**3
    cov_norm = npts / (npts - 1.0)
    ux, uy = mean(pred), mean(truth)
    vx = cov_norm * (mean(pred * pred) - ux * ux)
    vy = cov_norm * (mean(truth * truth) - uy * uy)
    vxy = cov_norm * (mean(pred * truth) - ux * uy)
    c1, c2 = (k1 * rng) ** 2, (k2 * rng) ** 2
    smap = ((2 * ux * uy + c1) * (2 * vxy + c2)) / (
        (ux * ux + uy * uy + c1) * (vx + vy + c2)
    )
    if boundary == "reflect":
        pad = (window - 1) // 2
        smap = smap[pad:-pad, pad:-pad, pad:-pad]
    return float(smap.mean())


def psnr(pred, truth, data_range=None):
    """Peak signal-to-noise ratio in dB (paper eq. 9).

    Parameters
    ----------
    pred, truth : array_like
        Grids of one 3D shape.
    data_range : float, optional
        Default ``truth.max() - truth.min()``.

    Returns
    -------
    float
        ``10 log10(data_range**2 / MSE)``; ``inf`` when MSE is 0.
    """
    pred, truth = _pair(pred, truth)
    rng = _data_range(truth, data_range)
    mse = float(np.mean((pred - truth) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(rng**2 / mse))


def pearson(pred, truth):
    """Pearson correlation of two grids (0 if either is constant).

    Parameters
    ----------
    pred, truth : array_like
        Grids of one 3D shape.

    Returns
    -------
    float
        The correlation coefficient over all voxels.
    """
    pred, truth = _pair(pred, truth)
    a = pred.ravel() - pred.mean()
    b = truth.ravel() - truth.mean()
    den = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / den) if den > 0 else 0.0


def cube_rotations():
    """Return the 24 proper rotations of the cube as 3x3 integer matrices.

    Returns
    -------
    list of numpy.ndarray
        Signed permutation matrices with determinant +1, identity first.
        Applied to grid indices with :func:`apply_rotation`: the rotation
        ``R`` maps the voxel at index ``i`` to ``R @ i (mod n)``, a
        rotation about the cell origin (grid point 0), which maps a
        periodic grid onto itself exactly.
    """
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            mat = np.zeros((3, 3), dtype=int)
            mat[range(3), perm] = signs
            if round(np.linalg.det(mat)) == 1:
                out.append(mat)
    out.sort(key=lambda m: (not np.array_equal(m, np.eye(3)), m.tolist()))
    return out


#: the 24 proper rotations of a cubic grid, identity first
CUBE_ROTATIONS = tuple(cube_rotations())


def apply_rotation(grid, rotation):
    """Rotate a cubic periodic grid about its origin voxel.

    Parameters
    ----------
    grid : array_like
        ``(n, n, n)`` grid.
    rotation : array_like
        A signed 3x3 permutation matrix ``R`` (one of
        :data:`CUBE_ROTATIONS`).

    Returns
    -------
    numpy.ndarray
        ``out`` with ``out[R @ i mod n] = grid[i]``.
    """
    grid = np.asarray(grid)
    rot = np.asarray(rotation)
    if grid.ndim != 3 or len(set(grid.shape)) != 1:
        raise CrystalNetInputError("expected an (n, n, n) grid", "grid")
    # out[j] = grid[m], m_k = s_k j_p(k) with R^-1 = R.T = (s_k at [k, p(k)])
    inv = rot.T
    perm = np.argmax(np.abs(inv), axis=1)
    signs = inv[range(3), perm]
    out = np.transpose(grid, np.argsort(perm))
    for k in range(3):
        if signs[k] < 0:
            ax = perm[k]
            out = np.roll(np.flip(out, axis=ax), 1, axis=ax)
    return np.ascontiguousarray(out)


def best_over_rotations(pred, truth, metric, greater_is_better=True):
    """Best score of a metric over the 24 rotations of the prediction.

    Parameters
    ----------
    pred, truth : array_like
        ``(n, n, n)`` grids.
    metric : callable
        ``metric(pred, truth) -> float``, e.g. :func:`ssim3d`.
    greater_is_better : bool, optional
        Maximise (default) or minimise.

    Returns
    -------
    score : float
        The best value.
    rotation : numpy.ndarray
        The rotation of :data:`CUBE_ROTATIONS` that gave it.
    """
    pred, truth = _pair(pred, truth)
    best, best_rot = None, None
    for rot in CUBE_ROTATIONS:
        value = metric(apply_rotation(pred, rot), truth)
        better = best is None or (
            value > best if greater_is_better else value < best
        )
        if better:
            best, best_rot = value, rot
    return best, best_rot


def atom_recovery(grid, structure, radius=0.5, **peak_options):
    """Fraction of atoms with a density maximum within ``radius``.

    Parameters
    ----------
    grid : array_like
        ``(n1, n2, n3)`` density on ``structure``'s cell.
    structure : pymatgen.core.Structure
        The true crystal on the grid's cell.
    radius : float, optional
        Distance in angstrom (default 0.5).
    **peak_options
        Passed to :func:`~diffpy.crystalnet.density.maxima.find_density_maxima`
        (``min_distance``, ``threshold``, ``max_peaks``).

    Returns
    -------
    float
        Recovered atoms / all atoms, in [0, 1].
    """
    frac, _ = find_density_maxima(grid, structure.lattice, **peak_options)
    if len(frac) == 0:
        return 0.0
    dist = structure.lattice.get_all_distances(structure.frac_coords, frac)
    return float(np.mean(dist.min(axis=1) <= radius))


def structure_match(a, b, ltol=0.2, stol=0.3, angle_tol=5.0):
    """Whether two structures match, with pymatgen's StructureMatcher.

    Parameters
    ----------
    a, b : pymatgen.core.Structure
        Candidate and reference.
    ltol, stol, angle_tol : float, optional
        Fractional length tolerance, site tolerance (in units of
        ``(V / N)**(1/3)``) and angle tolerance in degrees; the defaults are
        the ones used across the structure-generation literature.

    Returns
    -------
    matched : bool
        True if the structures match.
    rms : float or None
        RMS site displacement normalised by ``(V / N)**(1/3)`` when they
        match, else None.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(ltol=ltol, stol=stol, angle_tol=angle_tol)
    rms = matcher.get_rms_dist(a, b)
    if rms is None:
        return False, None
    return True, float(rms[0])


# End of file
