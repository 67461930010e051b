"""Fourier recycling: improve a predicted density with observed intensities.

Two steps, usable on their own or together (:func:`improve_density`):

1. :func:`~diffpy.crystalnet.refine.pawley.extract_intensities`: a
   whole-pattern decomposition (Pawley) of the observed profile on a given
   lattice gives one observed intensity per group of overlapping
   reflections, free of any structural model.
2. :func:`fourier_recycle`: the density grid is Fourier transformed, the
   amplitudes of the observed reflections are replaced by the observed
   ones while the phases of the map are kept, and the map is transformed
   back (optionally with positivity and a few charge-flipping cycles).
   This is the classical "Fourier recycling" of direct methods and
   density modification: a map with approximately right phases but wrong
   amplitudes (the typical error of a network that predicts a smooth,
   blurred density) becomes the map the data actually support.

Conventions are those of :mod:`diffpy.crystalnet.density.cmed`: the grid
element ``[i, j, k]`` is the density at fractional ``(i/n, j/n, k/n)`` of the
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
from diffpy.crystalnet.physics.lattice import lattice_matrix
from diffpy.crystalnet.refine.pawley import (
    ExtractedIntensities,
    extract_intensities,
)

__all__ = [
    "ImprovedDensity",
    "fourier_recycle",
    "improve_density",
]


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


def _check_options(extracted, cycles, flip, weight_unobserved, delta_b, delta):
    """Check the options of :func:`fourier_recycle`.

    Returns ``weight_unobserved`` as a float.
    """
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
    return weight_unobserved


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
        Observed intensities
        (:func:`~diffpy.crystalnet.refine.pawley.extract_intensities`).
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
    weight_unobserved = _check_options(
        extracted, cycles, flip, weight_unobserved, delta_b, delta
    )
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
        More keyword arguments of
        :func:`~diffpy.crystalnet.refine.pawley.extract_intensities`.
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
