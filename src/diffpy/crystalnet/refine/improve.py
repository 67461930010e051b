"""Improve a predicted density with the observed pattern before decoding.

Two steps, usable on their own or together (:func:`improve_density`):

1. :func:`extract_intensities`: a whole-pattern decomposition (Pawley) of
   the observed profile on a given lattice gives one observed intensity per
   group of overlapping reflections, free of any structural model.
2. :func:`fourier_recycle`: the density grid is Fourier transformed, the
   amplitudes of the observed reflections are replaced by the observed
   ones while the phases of the map are kept, and the map is transformed
   back (optionally with positivity and a few charge-flipping cycles).
   This is the classical "Fourier recycling" of direct methods and
   density modification: a map with approximately right phases but wrong
   amplitudes (the typical error of a network that predicts a smooth,
   blurred density) becomes the map the data actually support.

Conventions are those of :mod:`diffpy.crystalnet.density.cmed`: the grid
element
``[i, j, k]`` is the density at fractional ``(i/n, j/n, k/n)`` of the
lattice, in electrons per cubic angstrom, and

.. math::

   F(\\mathbf{h}) = \\frac{V}{n^3}\\sum_{\\mathbf{x}} \\rho(\\mathbf{x})
   \\, e^{-2\\pi i\\,\\mathbf{h}\\cdot\\mathbf{x}}
   = \\frac{V}{n^3}\\,\\mathrm{fftn}(\\rho)[\\mathbf{h} \\bmod n],

numpy's forward FFT having the same (negative) sign as the structure
factor, so :math:`F(000)` is the number of electrons in the cell.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import lattice_matrix, lattice_points
from diffpy.crystalnet.threads import with_one_blas_thread

__all__ = [
    "ExtractedIntensities",
    "ImprovedDensity",
    "extract_intensities",
    "fourier_recycle",
    "improve_density",
]

_DEG = math.pi / 180.0

#: non-linear profile parameters of the decomposition: start, lower, upper
_NONLINEAR = {
    "zero_shift": (0.0, -0.5, 0.5),
    "u": (0.0, 0.0, 0.5),
    "v": (0.0, -0.5, 0.5),
    "w": (0.004, 1e-5, 0.5),
    "inverse_size": (0.005, 0.0, 0.2),
    "microstrain": (0.0, 0.0, 0.01),
    "strain": (0.0, -0.01, 0.01),
    "kalpha2_ratio": (0.5, 0.0, 1.0),
}
#: refined by default (``kalpha2_ratio`` only with a K-alpha doublet)
DEFAULT_REFINE = tuple(_NONLINEAR)


@dataclass
class ExtractedIntensities:
    """Observed intensities from :func:`extract_intensities`.

    Every reflection of the lattice in the measured range is listed, one of
    each Friedel pair (``-hkl`` is implied, with the same intensity:
    Friedel's law, no anomalous scattering), sorted by 2-theta.
    Reflections closer than a fraction of the peak width share one
    *group*, whose intensity alone the profile determines.

    Attributes
    ----------
    hkl : numpy.ndarray
        ``(N, 3)`` integer Miller indices on ``lattice``.
    group : numpy.ndarray
        ``(N,)`` index of the overlap group of each reflection into the
        ``group_*`` arrays.
    d : numpy.ndarray
        ``(N,)`` d-spacings in angstrom on the refined ``lattice``.
    two_theta : numpy.ndarray
        ``(N,)`` K-alpha1 (or single-line) Bragg angles 2-theta in
        degrees on the refined lattice, before the zero shift.
    observed : numpy.ndarray
        ``(N,)`` bool: the peak centre lies inside the measured range (the
        others only absorb the tails that enter it; their intensity is not
        determined by the data).
    group_intensity : numpy.ndarray
        ``(G,)`` observed ``sum |F(h)|^2`` over the members of each group
        (one of each Friedel pair), on one arbitrary common scale: the
        Lorentz-polarisation factor and the Friedel pair (factor 2, as in
        :func:`~diffpy.crystalnet.physics.simulator.stick_table`) are divided
        out;
        multiplicity is explicit, since symmetry-equivalent reflections are
        separate members.  Never negative.
    group_sigma : numpy.ndarray
        ``(G,)`` standard uncertainties of ``group_intensity`` from the
        linear least squares (covariances of the finer fit groups summed,
        scaled by the reduced chi2; NaN for groups without data points).
    group_two_theta : numpy.ndarray
        ``(G,)`` mean 2-theta of the members.
    f_squared_observed : numpy.ndarray
        ``(N,)`` ``|F|^2`` of every reflection by equipartition of its
        group's intensity (:func:`fourier_recycle` partitions better, with
        the map's own ``|F|^2``).
    rwp, rp, chi2 : float
        Agreement of the decomposition (fractions; ``chi2`` reduced), as in
        :mod:`diffpy.crystalnet.refine.profile_fit`.
    parameters : dict
        Refined profile: ``zero_shift``, ``u``, ``v``, ``w``,
        ``inverse_size`` (1/nm), ``crystallite_size`` (nm or None),
        ``microstrain``, ``strain``, ``kalpha2_ratio`` (None without a
        doublet), ``background`` (Chebyshev coefficients), ``wavelength``
        (the lines), ``refined`` and ``weights``.
    lattice : pymatgen.core.Lattice
        The refined lattice (the input one scaled by ``1 + strain``), same
        basis as the input, so ``hkl`` refers to either.
    input_lattice : pymatgen.core.Lattice
        The lattice given.
    profile_two_theta, profile_observed, profile_calculated, \
profile_background : numpy.ndarray
        The fitted profile points (2-theta, degrees).
    nfev : int
        Profile evaluations.
    warnings : list of str
        Notes on the decomposition.
    """

    hkl: np.ndarray
    group: np.ndarray
    d: np.ndarray
    two_theta: np.ndarray
    observed: np.ndarray
    group_intensity: np.ndarray
    group_sigma: np.ndarray
    group_two_theta: np.ndarray
    f_squared_observed: np.ndarray
    rwp: float
    rp: float
    chi2: float
    parameters: dict
    lattice: object
    input_lattice: object
    profile_two_theta: np.ndarray = None
    profile_observed: np.ndarray = None
    profile_calculated: np.ndarray = None
    profile_background: np.ndarray = None
    nfev: int = 0
    warnings: list = field(default_factory=list)

    @property
    def n_groups(self):
        """Number of overlap groups (int)."""
        return len(self.group_intensity)

    @property
    def group_size(self):
        """Members per group (numpy.ndarray of int)."""
        return np.bincount(self.group, minlength=self.n_groups)

    @property
    def resolved(self):
        """(N,) bool: the reflection is alone in its group and observed."""
        return (self.group_size[self.group] == 1) & self.observed


@dataclass
class ImprovedDensity:
    """The outcome of :func:`fourier_recycle`.

    Attributes
    ----------
    density : numpy.ndarray
        The improved ``(n, n, n)`` grid (electrons per cubic angstrom, same
        conventions as the input).
    r_before, r_after : float
        ``R = sum |F_calc - F_obs| / sum F_obs`` over the observed groups
        (group amplitudes ``sqrt(sum |F|^2)``, on the map's absolute scale)
        for the input map and the returned map.
    r_history : list of float
        R of the map entering each cycle, then of the returned map.
    correlation_before, correlation_after : float
        Pearson correlation of the observed and calculated group
        amplitudes, before and after.
    scale : float
        ``k`` in ``|F_obs| = sqrt(k * I_obs) * exp(-delta_b s^2)``, from
        the input map.
    delta_b : float
        The relative displacement (angstrom^2) applied to the observed
        amplitudes to bring them to the map's blur (CMED densities carry
        B = 5 angstrom^2; measured data usually far less).
    n_observed : int
        Reflections (one per Friedel pair) whose amplitudes were imposed.
    n_unobserved : int
        Reflections of the grid (one per Friedel pair, ``F(000)`` not
        counted) left to the map.
    electrons : float
        ``F(000)`` kept from the input map.
    extracted : ExtractedIntensities or None
        The decomposition used (set by :func:`improve_density`).
    warnings : list of str
        Notes.
    """

    density: np.ndarray
    r_before: float
    r_after: float
    r_history: list
    correlation_before: float
    correlation_after: float
    scale: float
    delta_b: float
    n_observed: int
    n_unobserved: int
    electrons: float
    extracted: object = None
    warnings: list = field(default_factory=list)


# --------------------------------------------------------------------------
# intensity extraction


def _start_values(profile):
    """Start values of the non-linear parameters from a dict or Profile."""
    values = {k: v[0] for k, v in _NONLINEAR.items()}
    if profile is None:
        return values
    if hasattr(profile, "__dataclass_fields__"):  # a profiles.Profile
        profile = {
            "u": profile.u,
            "v": profile.v,
            "w": profile.w,
            "zero_shift": profile.zero_shift,
            "microstrain": profile.microstrain,
            "crystallite_size": profile.crystallite_size,
            "kalpha2_ratio": profile.kalpha2_ratio,
        }
    if not isinstance(profile, dict):
        raise CrystalNetInputError(
            "profile must be a dict of start values or a Profile, not "
            f"{type(profile).__name__}",
            "profile",
        )
    profile = dict(profile)
    size = profile.pop("crystallite_size", None)
    if size is not None:
        if not float(size) > 0:
            raise CrystalNetInputError(
                "crystallite_size must be positive (nm)", "profile"
            )
        profile.setdefault("inverse_size", 1.0 / float(size))
    unknown = sorted(set(profile) - set(_NONLINEAR))
    if unknown:
        raise CrystalNetInputError(
            f"unknown start value(s) {unknown}; choose from "
            f"{sorted(_NONLINEAR) + ['crystallite_size']}",
            "profile",
        )
    for key, value in profile.items():
        if value is None:
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = float("nan")
        if not math.isfinite(value):
            raise CrystalNetInputError(
                f"start value {key} = {profile[key]!r} is not a number",
                "profile",
            )
        values[key] = value
    return values


def _group_reflections(two_theta, fwhm, overlap):
    """Single-linkage groups of sorted positions closer than overlap*FWHM."""
    if two_theta.size == 0:
        return np.zeros(0, dtype=int)
    gap = np.diff(two_theta)
    limit = np.maximum(overlap * np.minimum(fwhm[1:], fwhm[:-1]), 1e-4)
    new = np.r_[True, gap > limit]
    return np.cumsum(new) - 1


class _Pawley:
    """Profile of groups of reflections with free (non-negative) areas.

    Works on the distinct peak positions (reflections with the same d have
    the same peak), each weighted by its number of reflections.
    """

    def __init__(self, x, y, sigma, d0, count, lines, basis, cutoff):
        self.x = x
        self.y = y
        self.inv_sigma = 1.0 / sigma
        self.ys = y * self.inv_sigma
        # distinct d-spacings (peak positions) and reflections at each
        self.d0 = d0
        self.count = count
        self.lines = lines
        self.basis = basis
        self.bs = basis * self.inv_sigma[:, None]
        self.gbb = self.bs.T @ self.bs
        self.cb = self.bs.T @ self.ys
        self.cutoff = cutoff
        self.group = None
        self.n_groups = 0
        self.t_min = math.tan(math.radians(x[0] / 2.0))
        self.t_max = math.tan(math.radians(x[-1] / 2.0))

    def widths_ok(self, p):
        h2 = [
            p["u"] * t * t + p["v"] * t + p["w"]
            for t in (self.t_min, self.t_max)
        ]
        if p["v"] < 0 and p["u"] > 0:
            t_star = -p["v"] / (2 * p["u"])
            if self.t_min < t_star < self.t_max:
                h2.append(p["w"] - p["v"] ** 2 / (4 * p["u"]))
        return min(h2) >= 1e-5

    def positions(self, p, lam):
        """Bragg 2-theta (degrees, no zero shift) and theta of positions."""
        sin_t = lam / (2.0 * self.d0 * (1.0 + p["strain"]))
        ok = sin_t < 1.0
        theta = np.full(sin_t.shape, np.nan)
        theta[ok] = np.arcsin(sin_t[ok])
        return 2.0 * theta / _DEG, theta, ok

    def fwhm(self, p, two_theta):
        from diffpy.crystalnet.physics.profiles import peak_widths

        size = 1.0 / p["inverse_size"] if p["inverse_size"] > 1e-6 else None
        return peak_widths(
            two_theta + p["zero_shift"],
            self.lines[0],
            max(p["u"], 0.0),
            p["v"],
            max(p["w"], 0.0),
            crystallite_size=size,
            microstrain=max(p["microstrain"], 0.0),
        )

    def set_groups(self, group):
        self.group = group
        self.n_groups = int(group.max()) + 1 if group.size else 0
        self.size = np.bincount(
            group, weights=self.count, minlength=self.n_groups
        )

    def design(self, p):
        """Sparse weighted design matrix (points x groups)."""
        from scipy.sparse import csr_matrix

        from diffpy.crystalnet.physics.broadening import peak_windows
        from diffpy.crystalnet.physics.profiles import (
            lorentz_polarization,
            pseudo_voigt,
        )

        rows, cols, vals = [], [], []
        for k, lam in enumerate(self.lines):
            weight = 1.0 if k == 0 else p["kalpha2_ratio"]
            if weight <= 0:
                continue
            tt, theta, ok = self.positions(p, lam)
            idx = np.flatnonzero(ok)
            centre = tt[idx] + p["zero_shift"]
            fwhm, eta = self.fwhm(p, tt[idx])
            stick, point = peak_windows(self.x, centre, fwhm, self.cutoff)
            if stick.size == 0:
                continue
            area = (
                weight
                * 2.0
                * lorentz_polarization(theta[idx])
                * self.count[idx]
                / self.size[self.group[idx]]
            )
            vals.append(
                area[stick]
                * pseudo_voigt(
                    self.x[point] - centre[stick], fwhm[stick], eta[stick]
                )
                * self.inv_sigma[point]
            )
            rows.append(point)
            cols.append(self.group[idx][stick])
        if not vals:
            return csr_matrix((len(self.x), self.n_groups))
        return csr_matrix(
            (
                np.concatenate(vals),
                (np.concatenate(rows), np.concatenate(cols)),
            ),
            shape=(len(self.x), self.n_groups),
        )

    def solve(self, p):
        """Non-negative group intensities and free background for p.

        Returns (intensities, background coefficients, weighted residual,
        the reduced normal matrix and active mask) or None.
        """
        if not self.widths_ok(p):
            return None
        a = self.design(p)
        gii = (a.T @ a).toarray()
        gib = np.asarray(a.T @ self.bs)
        ci = np.asarray(a.T @ self.ys).ravel()
        if self.bs.shape[1]:
            solve_b = np.linalg.solve(
                self.gbb, np.column_stack([gib.T, self.cb])
            )
            s = gii - gib @ solve_b[:, :-1]
            r = ci - gib @ solve_b[:, -1]
        else:
            s, r = gii, ci
        active = np.diag(s) > 1e-12 * max(1.0, float(np.max(np.diag(s))))
        x = np.zeros(self.n_groups)
        if np.any(active):
            x[active] = _nnls_quadratic(s[np.ix_(active, active)], r[active])
        if self.bs.shape[1]:
            coef_b = np.linalg.solve(self.gbb, self.cb - gib.T @ x)
        else:
            coef_b = np.zeros(0)
        resid = self.ys - a @ x - self.bs @ coef_b
        return x, coef_b, resid, s, active


def _nnls_quadratic(s, r):
    """argmin_{x >= 0} x.S.x / 2 - r.x for a positive semi-definite S."""
    from scipy.linalg import solve_triangular
    from scipy.optimize import nnls

    dg = np.sqrt(np.diag(s))
    sn = s / dg[:, None] / dg[None, :]
    rn = r / dg
    sn = sn + 1e-10 * np.eye(len(sn))
    try:
        chol = np.linalg.cholesky(sn)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(sn)
        w = np.clip(w, 1e-10, None)
        sn = (v * w) @ v.T
        chol = np.linalg.cholesky(sn)
    # ||L^T x - L^{-1} r||^2 = x S x - 2 r x + const
    rhs = solve_triangular(chol, rn, lower=True, check_finite=False)
    x, _ = nnls(chol.T, rhs, maxiter=50 * len(rn))
    return x / dg


@with_one_blas_thread
def extract_intensities(
    pattern,
    lattice,
    centring="P",
    profile=None,
    d_min=None,
    max_nfev=100,
    cycles=2,
    refine=DEFAULT_REFINE,
    background_terms=6,
    kalpha2="auto",
    overlap=0.4,
    cutoff=20.0,
    fit_overlap=0.1,
):
    """Decompose an observed profile into reflection-group intensities.

    A Pawley fit: every group of overlapping reflections has a free area,
    solved at each step of the profile refinement by non-negative linear
    least squares together with a free Chebyshev background (variable
    projection), so the non-linear optimiser sees only the profile
    parameters.  Chosen over Le Bail's iterative partition because the
    intensities are then the exact least-squares optimum for the current
    profile (no dependence on start values or the number of Le Bail
    cycles) and come with uncertainties, and because grouping reflections
    closer than ``overlap`` FWHM (the ones the data cannot separate)
    removes the classic instability of Pawley fits; the non-negativity
    bound removes the other (negative intensities of weak, overlapped
    peaks).

    Parameters
    ----------
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        The observed profile with its wavelength (2-theta or Q).
    lattice : pymatgen.core.Lattice
        The cell whose reflections are decomposed, e.g. the primitive CMED
        cell (then every reciprocal lattice point is a reflection) or a
        conventional cell with its ``centring``.
    centring : {"P", "I", "F", "R"}, optional
        Lattice centring; reflections it forbids are left out (default P).
    profile : dict or diffpy.crystalnet.physics.profiles.Profile, optional
        Start values of the profile parameters (``zero_shift``, ``u``,
        ``v``, ``w``, ``inverse_size`` or ``crystallite_size``,
        ``microstrain``, ``strain``, ``kalpha2_ratio``), e.g. the zero
        shift found by indexing.  Default: narrow lab peaks (FWHM about
        0.07 deg) and no shift.
    d_min : float, optional
        Use only reflections with d >= d_min (angstrom) and the profile up
        to their angle.  Default: the whole measured range.
    max_nfev : int, optional
        Largest number of profile evaluations per cycle.
    cycles : int, optional
        Grouping and refinement cycles (default 2): the groups are formed
        with the current peak widths, so a second cycle regroups with the
        refined ones.
    refine : sequence of str, optional
        Profile parameters to refine (default all of
        :data:`DEFAULT_REFINE`; ``kalpha2_ratio`` only with a doublet).
    background_terms : int, optional
        Chebyshev background terms (default 6).
    kalpha2 : {"auto", True, False}, optional
        Model the K-alpha2 line with a refined intensity ratio; ``"auto"``
        (default) does for K-alpha wavelengths (monochromated data then
        refine the ratio to about 0).
    overlap : float, optional
        Reflections whose Bragg angles differ by less than this fraction
        of the FWHM share a group (default 0.4): the data cannot split
        their intensity reliably.
    cutoff : float, optional
        Peaks are evaluated within this many FWHM of their centre.
    fit_overlap : float, optional
        The finer grouping used in the fit itself (default 0.1, at most
        ``overlap``); the reported groups sum its intensities (and
        covariances).  Fitting with the coarse groups would give each a
        fixed equal-intensity shape and misfit partly split peaks (reduced
        chi2 3.6 instead of 1.0 on a 36-atom hexagonal cell).

    Returns
    -------
    ExtractedIntensities
        Reflections, groups, observed intensities and the refined profile.

    Raises
    ------
    CrystalNetInputError
        For sticks instead of a profile, a pattern without wavelength, a
        lattice without volume, an unknown centring or parameter, or no
        reflection in the measured range.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from diffpy.crystalnet.physics.simulator import simulate_pattern
    >>> nacl = Structure.from_spacegroup(
    ...     "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
    ...     [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> pattern = simulate_pattern(nacl, "CuKa1", (20, 90),
    ...     profile={"w": 0.005})
    >>> ex = extract_intensities(pattern, nacl.lattice, centring="F")
    >>> ex.rwp < 0.05
    True
    """
    from scipy.optimize import least_squares

    from diffpy.crystalnet.physics.scattering import enumerate_reflections
    from diffpy.crystalnet.refine.kernel import (
        chebyshev_basis,
        check_profile_pattern,
        kalpha_lines,
        profile_weights,
    )

    where = check_profile_pattern(pattern, "the decomposition")
    matrix = lattice_matrix(lattice)
    points = lattice_points(centring)
    unknown = sorted(set(refine) - set(_NONLINEAR))
    if unknown:
        raise CrystalNetInputError(
            f"unknown parameters {unknown}; choose from {sorted(_NONLINEAR)}",
            "refine",
        )
    if int(cycles) < 1 or int(max_nfev) < 1:
        raise CrystalNetInputError(
            "cycles and max_nfev must be at least 1", "cycles"
        )
    if not 0 <= float(overlap) < 5:
        raise CrystalNetInputError("overlap must be within 0-5", "overlap")
    if not 0 <= float(fit_overlap) <= float(overlap):
        raise CrystalNetInputError(
            "fit_overlap must be within 0 and overlap", "fit_overlap"
        )
    values = _start_values(profile)

    x = np.asarray(pattern.two_theta, dtype=float)
    y = np.asarray(pattern.intensity, dtype=float)
    sigma, weight_origin = profile_weights(pattern, y)
    lines, ratio = kalpha_lines(pattern.wavelength, kalpha2)
    if ratio is not None and "kalpha2_ratio" not in (profile or {}):
        values["kalpha2_ratio"] = float(ratio)
    lam1 = lines[0]
    keep = np.isfinite(x)
    if d_min is not None:
        d_min = float(d_min)
        if not d_min > 0:
            raise CrystalNetInputError("d_min must be positive", "d_min")
        if lam1 / (2 * d_min) < 1:
            top = 2 * math.degrees(math.asin(lam1 / (2 * d_min)))
            keep &= x <= top + 0.5
    x, y, sigma = x[keep], y[keep], sigma[keep]
    if x.size < 10:
        raise CrystalNetInputError(
            "fewer than 10 profile points to decompose", where
        )

    # reflections: the measured range plus a margin for tails
    margin = 2.0
    lo = max(0.0, x[0] - margin - abs(values["zero_shift"]))
    hi = min(179.9, x[-1] + margin + abs(values["zero_shift"]))
    smax = 1.0 + _NONLINEAR["strain"][2]
    r_lo = 2 * math.sin(math.radians(lo / 2)) / max(lines) / smax
    r_hi = 2 * math.sin(math.radians(hi / 2)) / lam1 * smax
    if d_min is not None:
        r_hi = min(r_hi, 1.0 / d_min)
    hkl, g = enumerate_reflections(matrix, r_lo, r_hi)
    phase = hkl @ points.T
    allowed = np.all(np.abs(phase - np.rint(phase)) < 1e-6, axis=1) & (g > 0)
    hkl, g = hkl[allowed], g[allowed]
    if hkl.shape[0] == 0:
        raise CrystalNetInputError(
            "the lattice has no reflection in the measured range", where
        )
    d0 = 1.0 / g
    d_unique, position, count = np.unique(
        np.round(d0, 9), return_inverse=True, return_counts=True
    )
    basis = chebyshev_basis(x, int(background_terms))
    model = _Pawley(
        x, y, sigma, d_unique, count.astype(float), lines, basis, float(cutoff)
    )
    names = [
        k
        for k in _NONLINEAR
        if k in refine and (k != "kalpha2_ratio" or len(lines) > 1)
    ]
    lower = np.array([_NONLINEAR[k][1] for k in names])
    upper = np.array([_NONLINEAR[k][2] for k in names])
    notes = []
    nfev = 0

    def params(vector):
        p = dict(values)
        p.update(zip(names, vector))
        return p

    def regroup(p, frac):
        """Groups of the distinct positions (numbered by 2-theta)."""
        tt, _, ok = model.positions(p, lam1)
        tt = np.where(ok, tt, 180.0)
        order = np.argsort(tt, kind="stable")
        fwhm, _ = model.fwhm(p, np.minimum(tt[order], 179.0))
        group = np.empty(len(tt), dtype=int)
        group[order] = _group_reflections(tt[order], fwhm, float(frac))
        return group

    vector = np.clip([values[k] for k in names], lower, upper)
    for cycle in range(int(cycles)):
        model.set_groups(regroup(params(vector), fit_overlap))
        state = {}

        def residual(v):
            out = model.solve(params(v))
            if out is None:
                return np.full(y.shape, 1e3) * np.sqrt(np.abs(model.ys) + 1)
            state["last"] = out
            return out[2]

        if model.solve(params(vector)) is None:
            raise CrystalNetInputError(
                "the start values give zero peak widths", "profile"
            )
        if names:
            result = least_squares(
                residual,
                vector,
                bounds=(lower, upper),
                x_scale="jac",
                max_nfev=int(max_nfev),
                diff_step=1e-3,
            )
            vector = result.x
            nfev += int(result.nfev)
            if not result.success:
                notes.append(f"cycle {cycle + 1}: {result.message}")
    p = params(vector)
    model.set_groups(regroup(p, fit_overlap))
    out = model.solve(p)
    if out is None:
        raise CrystalNetInputError(
            "the refined profile has zero peak widths", where
        )
    inten, coef_b, resid, s, active = out
    nfev += 1
    calc_w = model.ys - resid
    calc = calc_w / model.inv_sigma
    bkg = basis @ coef_b
    w = model.inv_sigma**2
    n_par = len(names) + int(np.count_nonzero(inten > 0)) + basis.shape[1]
    dof = max(1, len(y) - n_par)
    wss = float(np.sum(resid**2))
    rwp = math.sqrt(wss / float(np.sum(w * y * y)))
    rp = float(np.sum(np.abs(y - calc)) / np.sum(np.abs(y)))
    chi2 = wss / dof
    # covariance of the fine-group intensities: free (positive) ones from
    # the normal matrix, those at the bound from its diagonal
    cov = np.zeros((model.n_groups, model.n_groups))
    free = active & (inten > 0)
    if np.any(free):
        sub = s[np.ix_(free, free)]
        cov[np.ix_(free, free)] = np.linalg.pinv(sub, hermitian=True) * chi2
    zero = active & ~(inten > 0)
    cov[zero, zero] = chi2 / np.diag(s)[zero]
    cov[~active, ~active] = np.nan
    # the reported (coarser) groups sum the fine ones
    coarse = regroup(p, overlap)
    coarse_of_fine = np.zeros(model.n_groups, dtype=int)
    coarse_of_fine[model.group] = coarse
    n_coarse = int(coarse.max()) + 1
    member = np.zeros((n_coarse, model.n_groups))
    member[coarse_of_fine, np.arange(model.n_groups)] = 1.0
    inten = member @ inten
    group_sigma = np.sqrt(np.clip(np.sum((member @ cov) * member, 1), 0, None))

    # final reflection table, sorted by 2-theta
    tt, _, ok = model.positions(p, lam1)
    tt = np.where(ok, tt, 180.0)[position]
    order = np.lexsort((np.arange(len(tt)), tt))
    group = coarse[position][order]
    # renumber groups in order of appearance
    first = {}
    new_group = np.array([first.setdefault(gv, len(first)) for gv in group])
    remap = np.array(list(first), dtype=int)
    inten, group_sigma = inten[remap], group_sigma[remap]
    tt = tt[order]
    shown = tt + p["zero_shift"]
    observed = (shown >= x[0]) & (shown <= x[-1])
    size = np.bincount(new_group, minlength=len(remap))
    group_tt = np.bincount(new_group, weights=tt, minlength=len(remap)) / size
    strain = p["strain"]
    from pymatgen.core import Lattice

    refined = Lattice(matrix * (1.0 + strain))
    inv_size = p["inverse_size"]
    parameters = {
        "zero_shift": float(p["zero_shift"]),
        "u": float(p["u"]),
        "v": float(p["v"]),
        "w": float(p["w"]),
        "inverse_size": float(inv_size),
        "crystallite_size": 1.0 / inv_size if inv_size > 1e-6 else None,
        "microstrain": float(p["microstrain"]),
        "strain": float(strain),
        "kalpha2_ratio": float(p["kalpha2_ratio"]) if len(lines) > 1 else None,
        "background": [float(c) for c in coef_b],
        "wavelength": [float(v) for v in lines],
        "refined": list(names),
        "weights": weight_origin,
    }
    if not np.any(inten > 0):
        notes.append("no reflection has intensity: wrong lattice?")
    return ExtractedIntensities(
        hkl=hkl[order].astype(int),
        group=new_group,
        d=d0[order] * (1.0 + strain),
        two_theta=tt,
        observed=observed,
        group_intensity=inten,
        group_sigma=group_sigma,
        group_two_theta=group_tt,
        f_squared_observed=inten[new_group] / size[new_group],
        rwp=rwp,
        rp=rp,
        chi2=chi2,
        parameters=parameters,
        lattice=refined,
        input_lattice=lattice,
        profile_two_theta=x,
        profile_observed=y,
        profile_calculated=calc,
        profile_background=bkg,
        nfev=nfev,
        warnings=notes,
    )


# --------------------------------------------------------------------------
# Fourier recycling


def _check_density(density):
    try:
        rho = np.array(density, dtype=float)
    except (TypeError, ValueError):
        raise CrystalNetInputError("the density is not numeric", "density")
    if rho.ndim != 3 or len(set(rho.shape)) != 1 or rho.shape[0] < 2:
        raise CrystalNetInputError(
            f"the density must be an (n, n, n) grid, not {rho.shape}",
            "density",
        )
    if not np.all(np.isfinite(rho)):
        raise CrystalNetInputError(
            "the density has NaN or infinite values", "density"
        )
    return rho


def _basis_change(density_matrix, extracted_matrix):
    """Integer unimodular T with hkl_density = hkl_extracted @ T.T.

    Returns T and the isotropic scale between the two lattices.
    """
    t = density_matrix @ np.linalg.inv(extracted_matrix)
    det = np.linalg.det(t)
    scale = abs(det) ** (1.0 / 3.0)
    if not scale > 0:
        return None, scale
    tn = t / scale
    ti = np.rint(tn)
    if (
        np.max(np.abs(tn - ti)) > 0.05
        or abs(abs(np.linalg.det(ti)) - 1) > 1e-6
    ):
        return None, scale
    return ti.astype(int), scale


def _fit_scale(obs_amp, calc_amp, s2, delta_b):
    """sqrt(k) and delta_b minimising sum (sqrt(k) a e^{-dB s2} - c)^2."""
    from scipy.optimize import minimize_scalar

    def solve_k(db):
        a = obs_amp * np.exp(-db * s2)
        aa = float(a @ a)
        if aa <= 0:
            return 0.0, float(calc_amp @ calc_amp)
        root_k = float(a @ calc_amp) / aa
        return root_k, float(np.sum((root_k * a - calc_amp) ** 2))

    if delta_b == "fit":
        if len(obs_amp) < 3 or np.ptp(s2) <= 0:
            db = 0.0
        else:
            res = minimize_scalar(
                lambda v: solve_k(v)[1],
                bounds=(-10.0, 20.0),
                method="bounded",
                options={"xatol": 1e-3},
            )
            db = float(res.x)
    else:
        db = 0.0 if delta_b is None else float(delta_b)
    root_k, _ = solve_k(db)
    return root_k**2, db


class _Recycler:
    """Observed amplitudes mapped onto the FFT grid of a density."""

    def __init__(self, rho, lattice, extracted, delta_b, notes):
        n = rho.shape[0]
        self.n = n
        self.volume = float(lattice.volume)
        self.norm = self.volume / n**3
        dmat = lattice_matrix(lattice)
        ematrix = np.asarray(extracted.lattice.matrix, dtype=float)
        t, scale = _basis_change(dmat, ematrix)
        if t is None:
            raise CrystalNetInputError(
                "the density's lattice and the lattice of the extracted "
                "intensities are not the same lattice (no unimodular basis "
                "change relates them)",
                "lattice",
            )
        if abs(scale - 1.0) > 0.03:
            notes.append(
                f"the density's cell is {100 * (scale - 1):+.1f} % from "
                "the extracted cell (length)"
            )
        hkl = np.asarray(extracted.hkl, dtype=int) @ t.T
        inside = np.all(np.abs(hkl) < n / 2.0, axis=1)
        group = np.asarray(extracted.group, dtype=int)
        n_groups = len(extracted.group_intensity)
        ok_member = inside & np.asarray(extracted.observed, dtype=bool)
        members = np.bincount(group, minlength=n_groups)
        good = np.bincount(group, weights=ok_member, minlength=n_groups)
        usable_group = (good == members) & (members > 0)
        intensity = np.asarray(extracted.group_intensity, dtype=float)
        usable_group &= np.isfinite(intensity) & (intensity >= 0)
        if np.count_nonzero(~inside):
            notes.append(
                f"{np.count_nonzero(~inside)} observed reflection(s) lie "
                f"beyond the {n}^3 grid and are not used"
            )
        use = usable_group[group]
        if not np.any(use):
            raise CrystalNetInputError(
                "no observed reflection falls on the density grid",
                "extracted",
            )
        # renumber the usable groups 0..G-1
        kept = np.flatnonzero(usable_group)
        new = np.full(n_groups, -1)
        new[kept] = np.arange(len(kept))
        self.hkl = hkl[use]
        self.group = new[group[use]]
        self.n_groups = len(kept)
        self.size = np.bincount(self.group, minlength=self.n_groups)
        self.intensity = intensity[kept]
        recip = np.linalg.inv(dmat).T
        gvec = self.hkl @ recip
        self.s2 = np.einsum("ij,ij->i", gvec, gvec) / 4.0
        self.group_s2 = (
            np.bincount(self.group, weights=self.s2, minlength=self.n_groups)
            / self.size
        )
        self.idx = tuple((self.hkl % n).T)
        self.idx_neg = tuple(((-self.hkl) % n).T)
        self.delta_b_mode = delta_b

    def transform(self, rho):
        return np.fft.fftn(rho) * self.norm

    def inverse(self, f):
        return np.real(np.fft.ifftn(f)) / self.norm

    def calc_group(self, f):
        fc2 = np.abs(f[self.idx]) ** 2
        return fc2, np.bincount(
            self.group, weights=fc2, minlength=self.n_groups
        )

    def fit_scale(self, f):
        _, cg = self.calc_group(f)
        self.k, self.delta_b = _fit_scale(
            np.sqrt(self.intensity),
            np.sqrt(cg),
            self.group_s2,
            self.delta_b_mode,
        )
        self.obs_group_amp = np.sqrt(self.k * self.intensity) * np.exp(
            -self.delta_b * self.group_s2
        )

    def agreement(self, f):
        _, cg = self.calc_group(f)
        calc = np.sqrt(cg)
        obs = self.obs_group_amp
        denom = float(np.sum(obs))
        r = float(np.sum(np.abs(calc - obs)) / denom) if denom > 0 else 0.0
        if np.std(calc) > 0 and np.std(obs) > 0:
            corr = float(np.corrcoef(calc, obs)[0, 1])
        else:
            corr = 0.0
        return r, corr

    def impose(self, f):
        """Observed amplitudes with the phases of f (a new array)."""
        fc = f[self.idx]
        fc2, cg = self.calc_group(f)
        gi = self.group
        share = np.where(
            cg[gi] > 1e-12 * max(1.0, float(cg.max())),
            fc2 / np.where(cg[gi] > 0, cg[gi], 1.0),
            1.0 / self.size[gi],
        )
        amp = np.sqrt(self.k * self.intensity[gi] * share) * np.exp(
            -self.delta_b * self.s2
        )
        mag = np.abs(fc)
        phase = np.where(mag > 0, fc / np.where(mag > 0, mag, 1.0), 1.0)
        out = f.copy()
        out[self.idx] = amp * phase
        out[self.idx_neg] = np.conj(amp * phase)
        return out


def fourier_recycle(
    density,
    lattice,
    extracted,
    cycles=10,
    flip=0,
    delta=None,
    positivity=True,
    weight_unobserved=1.0,
    delta_b="fit",
):
    """Impose the observed amplitudes on a density, keeping its phases.

    Each cycle Fourier transforms the map, replaces ``|F(h)|`` of every
    observed reflection by the observed amplitude while keeping the map's
    phase, transforms back and (with ``positivity``) sets negative
    densities to zero.  The observed intensity of an overlap group is
    shared among its members in proportion to the map's own ``|F|^2``
    (the standard partition, better than equipartition once the map is
    roughly right).  Then ``flip`` charge-flipping cycles (Oszlanyi and
    Suto, Acta Cryst. A60, 134 (2004)) may follow.

    Parameters
    ----------
    density : array_like
        ``(n, n, n)`` density on ``lattice`` (conventions of
        :mod:`diffpy.crystalnet.density.cmed`).
    lattice : pymatgen.core.Lattice
        The density's cell, e.g. the primitive CMED cell.  It must be the
        lattice of ``extracted`` up to a unimodular change of basis and a
        small isotropic strain.
    extracted : ExtractedIntensities
        Observed intensities (:func:`extract_intensities`).
    cycles : int, optional
        Recycling cycles (default 10; 0 only measures the agreement).
        Each costs two FFTs of the grid (milliseconds at 50^3); with
        positivity, more cycles kept improving phase-perturbed maps up
        to about 10 (``benchmarks/bench_improve.py``).
    flip : int, optional
        Charge-flipping cycles after the recycling (default 0).
    delta : float, optional
        Flipping threshold in electrons per cubic angstrom, applied to the
        map without its mean; default ``0.8`` times its standard deviation.
    positivity : bool, optional
        Clip negative densities after every cycle and in the returned map
        (default True).
    weight_unobserved : float, optional
        Factor on the map's coefficients of the reflections the pattern
        does not measure (below its first angle, beyond its resolution, in
        groups that reach out of the range), applied in every cycle.
        Default 1: they keep their calculated values, so the map keeps its
        resolution and the data fix only what they measure; 0 gives a
        plain observed Fourier synthesis (with the map's phases and
        ``F(000)``), which truncates the map at the data's resolution.
    delta_b : "fit" or float or None, optional
        Relative displacement (angstrom^2) applied to the observed
        amplitudes, ``exp(-delta_b s^2)``, so that they match the map's
        blur.  ``"fit"`` (default) refines it with the scale against the
        input map (CMED maps carry ``B = 5`` angstrom^2, measured data
        usually much less); None means 0.

    Returns
    -------
    ImprovedDensity
        The new grid and the agreement before and after.

    Raises
    ------
    CrystalNetInputError
        For a density that is not a finite cubic grid, a lattice that is
        not the extracted one, bad cycle counts, or no observed reflection
        on the grid.

    Notes
    -----
    The scale ``k`` and ``delta_b`` are fitted once, against the input map
    (Wilson statistics make ``sum |F|^2`` depend on the composition and
    the displacements, not on the atom positions, so a map with wrong
    positions still fixes the scale).  ``F(000)``, the electron count, is
    kept from the input map; clipping negative densities adds a little to
    it.
    """
    rho = _check_density(density)
    if not isinstance(extracted, ExtractedIntensities):
        raise CrystalNetInputError(
            "extracted must come from extract_intensities", "extracted"
        )
    for name, value in (("cycles", cycles), ("flip", flip)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise CrystalNetInputError(
                f"{name} must be a non-negative integer, not {value!r}", name
            )
    weight_unobserved = float(weight_unobserved)
    if not 0.0 <= weight_unobserved <= 1.0:
        raise CrystalNetInputError(
            "weight_unobserved must be within 0-1", "weight_unobserved"
        )
    if not (
        delta_b is None
        or delta_b == "fit"
        or (
            isinstance(delta_b, (int, float, np.floating))
            and math.isfinite(delta_b)
        )
    ):
        raise CrystalNetInputError(
            f"delta_b must be 'fit', a number or None, not {delta_b!r}",
            "delta_b",
        )
    if delta is not None and not (math.isfinite(float(delta))):
        raise CrystalNetInputError("delta must be a number", "delta")
    notes = []
    rec = _Recycler(rho, lattice, extracted, delta_b, notes)
    f = rec.transform(rho)
    electrons = float(np.real(f[0, 0, 0]))
    rec.fit_scale(f)
    r_before, corr_before = rec.agreement(f)
    history = []

    observed = np.zeros(f.shape, dtype=bool)
    observed[rec.idx] = True
    observed[rec.idx_neg] = True
    unobserved = ~observed
    unobserved[0, 0, 0] = False

    def synthesis(f_new, f000):
        if weight_unobserved != 1.0:
            f_new[unobserved] *= weight_unobserved
        f_new[0, 0, 0] = f000
        return rec.inverse(f_new)

    for _ in range(int(cycles)):
        history.append(rec.agreement(f)[0])
        rho = synthesis(rec.impose(f), electrons)
        if positivity:
            rho = np.clip(rho, 0.0, None)
        f = rec.transform(rho)
    if flip:
        mean = electrons / rec.volume
        work = rho - mean
        threshold = 0.8 * float(np.std(work)) if delta is None else delta
        g = rec.transform(work)
        for _ in range(int(flip)):
            history.append(rec.agreement(g)[0])
            flipped = np.where(work < threshold, -work, work)
            g = rec.impose(rec.transform(flipped))
            work = rec.inverse(g)
        g[0, 0, 0] = electrons
        rho = rec.inverse(g)
        if positivity:
            rho = np.clip(rho, 0.0, None)
        f = rec.transform(rho)
    r_after, corr_after = rec.agreement(f)
    history.append(r_after)
    return ImprovedDensity(
        density=rho,
        r_before=r_before,
        r_after=r_after,
        r_history=history,
        correlation_before=corr_before,
        correlation_after=corr_after,
        scale=float(rec.k),
        delta_b=float(rec.delta_b),
        n_observed=int(len(rec.hkl)),
        n_unobserved=int(np.count_nonzero(unobserved) // 2),
        electrons=electrons,
        warnings=notes,
    )


def improve_density(
    density,
    lattice,
    pattern=None,
    extracted=None,
    centring="P",
    extract_options=None,
    **kwargs,
):
    """Extract intensities (unless given) and recycle a density with them.

    Parameters
    ----------
    density : array_like
        ``(n, n, n)`` density on ``lattice``.
    lattice : pymatgen.core.Lattice
        The density's cell (the primitive CMED cell).
    pattern : diffpy.crystalnet.physics.pattern.Pattern, optional
        The observed profile; needed unless ``extracted`` is given.
    extracted : ExtractedIntensities, optional
        A decomposition to reuse (several densities on one lattice need
        only one).
    centring : str, optional
        Centring of ``lattice`` for the decomposition (default P).
    extract_options : dict, optional
        More keyword arguments of :func:`extract_intensities`.
    **kwargs
        Keyword arguments of :func:`fourier_recycle`.

    Returns
    -------
    ImprovedDensity
        With ``extracted`` set to the decomposition used.

    Raises
    ------
    CrystalNetInputError
        Without a pattern or a decomposition, and as the two steps do.
    """
    if extracted is None:
        if pattern is None:
            raise CrystalNetInputError(
                "give the pattern or the extracted intensities", "pattern"
            )
        extracted = extract_intensities(
            pattern, lattice, centring=centring, **(extract_options or {})
        )
    out = fourier_recycle(density, lattice, extracted, **kwargs)
    out.extracted = extracted
    return out


# End of file
