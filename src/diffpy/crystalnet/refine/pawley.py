"""Pawley extraction of observed intensities from a powder profile.

:func:`extract_intensities` decomposes an observed profile on a given
lattice into one observed intensity per group of overlapping reflections,
free of any structural model (a whole-pattern decomposition); the result
is an :class:`ExtractedIntensities`.  The Fourier recycling of densities
with these intensities is :mod:`diffpy.crystalnet.solver.recycle`.
"""

from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import lattice_matrix, lattice_points
from diffpy.crystalnet.refine.pawley_model import (
    _NONLINEAR,
    _agreement,
    _check_options,
    _fit_profile,
    _intensity_covariance,
    _lattice_reflections,
    _measured_range,
    _params,
    _Pawley,
    _profile_parameters,
    _reflection_table,
    _regroup,
    _start_values,
    _sum_groups,
)
from diffpy.crystalnet.threads import with_one_blas_thread

__all__ = [
    "DEFAULT_REFINE",
    "ExtractedIntensities",
    "extract_intensities",
]

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
        ``(G,)`` observed ``sum |F(h)|^2`` over the members of each group (one
        of each Friedel pair), on one arbitrary common scale: the
        Lorentz-polarisation factor and the Friedel pair (factor 2, as in
        :func:`~diffpy.crystalnet.physics.simulator.stick_table`) are divided
        out; multiplicity is explicit, since symmetry-equivalent reflections
        are separate members.  Never negative.
    group_sigma : numpy.ndarray
        ``(G,)`` standard uncertainties of ``group_intensity`` from the
        linear least squares (covariances of the finer fit groups summed,
        scaled by the reduced chi2; NaN for groups without data points).
    group_two_theta : numpy.ndarray
        ``(G,)`` mean 2-theta of the members.
    f_squared_observed : numpy.ndarray
        ``(N,)`` ``|F|^2`` of every reflection by equipartition of its
        group's intensity
        (:func:`~diffpy.crystalnet.solver.recycle.fourier_recycle` partitions
        better, with the map's own ``|F|^2``).
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


# long: wires the steps (helpers in pawley_model), fills a 21-field result
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
    from pymatgen.core import Lattice

    from diffpy.crystalnet.refine.kernel import (
        chebyshev_basis,
        check_profile_pattern,
        kalpha_lines,
        profile_weights,
    )

    where = check_profile_pattern(pattern, "the decomposition")
    matrix = lattice_matrix(lattice)
    points = lattice_points(centring)
    _check_options(refine, cycles, max_nfev, overlap, fit_overlap)
    values = _start_values(profile)

    x = np.asarray(pattern.two_theta, dtype=float)
    y = np.asarray(pattern.intensity, dtype=float)
    sigma, weight_origin = profile_weights(pattern, y)
    lines, ratio = kalpha_lines(pattern.wavelength, kalpha2)
    if ratio is not None and "kalpha2_ratio" not in (profile or {}):
        values["kalpha2_ratio"] = float(ratio)
    lam1 = lines[0]
    x, y, sigma, d_min = _measured_range(x, y, sigma, lam1, d_min, where)
    hkl, g = _lattice_reflections(
        matrix, points, x, lines, values, d_min, where
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
    vector, nfev, notes = _fit_profile(
        model, values, names, lam1, cycles, max_nfev, fit_overlap
    )
    p = _params(values, names, vector)
    model.set_groups(_regroup(model, p, fit_overlap, lam1))
    out = model.solve(p)
    if out is None:
        raise CrystalNetInputError(
            "the refined profile has zero peak widths", where
        )
    inten, coef_b, resid, s, active = out
    nfev += 1
    bkg = basis @ coef_b
    n_par = len(names) + int(np.count_nonzero(inten > 0)) + basis.shape[1]
    calc, rwp, rp, chi2 = _agreement(model, resid, n_par)
    cov = _intensity_covariance(s, inten, active, chi2, model.n_groups)
    # the reported (coarser) groups sum the fine ones
    coarse = _regroup(model, p, overlap, lam1)
    inten, group_sigma = _sum_groups(model, coarse, inten, cov)
    # final reflection table, sorted by 2-theta
    order, new_group, remap, tt, observed = _reflection_table(
        model, p, lam1, position, coarse
    )
    inten, group_sigma = inten[remap], group_sigma[remap]
    size = np.bincount(new_group, minlength=len(remap))
    group_tt = np.bincount(new_group, weights=tt, minlength=len(remap)) / size
    strain = p["strain"]
    refined = Lattice(matrix * (1.0 + strain))
    parameters = _profile_parameters(p, coef_b, lines, names, weight_origin)
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


# End of file
