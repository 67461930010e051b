"""Vectorised kinematic powder-pattern simulator.

:func:`simulate_pattern` reproduces pymatgen's
:class:`~pymatgen.analysis.diffraction.xrd.XRDCalculator` (same atomic
scattering parameters, occupancies, Debye-Waller factors, Lorentz-polarisation
factor, merging of reflections within 1e-5 degrees, hkl families and
multiplicities) with numpy array operations throughout: the reflections inside
the limiting sphere come from one integer grid, the structure factors from one
(reflections x atoms) product, and merging and family grouping from sorting.
With a :class:`~diffpy.crystalnet.physics.profiles.Profile` it returns a full
profile (peak shapes, K-alpha2, background, noise).

The atomic scattering factors, the reflections and the structure factors
come from :mod:`diffpy.crystalnet.physics.scattering`.  Intensities carry the
Lorentz-polarisation factor (1 + cos^2 2theta) / (sin^2 theta cos theta) and
no absorption, extinction or preferred orientation.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.broadening import (
    profile_grid,
    synthesize_profile,
)
from diffpy.crystalnet.physics.profiles import (
    as_profile,
    lorentz_polarization,
)
from diffpy.crystalnet.physics.scattering import (
    _scatterers,
    _structure_factor_sq,
    _two_theta_limits,
    displacement_b,
    enumerate_reflections,
)
from diffpy.crystalnet.physics.wavelengths import (
    kalpha_doublet,
    resolve_wavelength,
)

__all__ = [
    "HklFamilies",
    "StickPattern",
    "simulate_pattern",
    "stick_table",
]

#: Same constants as pymatgen's AbstractDiffractionPatternCalculator.
TWO_THETA_TOL = 1e-5
SCALED_INTENSITY_TOL = 1e-3


@dataclass(eq=False)
class StickPattern:
    """Merged reflections of a structure, like pymatgen's DiffractionPattern.

    Attributes
    ----------
    x : numpy.ndarray
        2-theta in degrees.
    y : numpy.ndarray
        Intensities (maximum 100 when scaled).
    hkls : sequence of list of dict
        Per peak, ``[{"hkl": tuple, "multiplicity": int}, ...]`` as in
        pymatgen (four indices for hexagonal lattices); an
        :class:`HklFamilies`, built when first read.
    d_hkls : numpy.ndarray
        Interplanar spacings in angstrom.
    wavelength : float
        Wavelength in angstrom.
    """

    x: np.ndarray
    y: np.ndarray
    hkls: list
    d_hkls: np.ndarray
    wavelength: float
    metadata: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.x)

    def to_pattern(self, source=None):
        """Return a :class:`~diffpy.crystalnet.physics.pattern.Pattern` of
        sticks.

        Parameters
        ----------
        source : str, optional
            Description stored in the pattern.

        Returns
        -------
        Pattern
            ``kind="sticks"``, ``xtype="tth"``, with the wavelength and hkls.
        """
        from diffpy.crystalnet.physics.pattern import Pattern

        return Pattern(
            x=self.x,
            intensity=self.y,
            xtype="tth",
            wavelength=self.wavelength,
            kind="sticks",
            source=source or "simulated sticks",
            metadata=dict(self.metadata),
            hkls=self.hkls,
        )

    def to_pymatgen(self):
        """Return pymatgen's DiffractionPattern with the same content."""
        from pymatgen.analysis.diffraction.core import DiffractionPattern

        return DiffractionPattern(
            list(self.x), list(self.y), list(self.hkls), list(self.d_hkls)
        )


def _families(hkl, peak_of, is_hex):
    """hkl families per peak: representative, multiplicity, in pymatgen order.

    pymatgen lists, per peak, every reflection and its Friedel mate in
    sorted order and groups them by the sorted absolute indices; a family's
    representative is the largest tuple and the families keep the order in
    which they first appear.
    """
    if is_hex:
        full = np.column_stack(
            [hkl[:, 0], hkl[:, 1], -hkl[:, 0] - hkl[:, 1], hkl[:, 2]]
        )
    else:
        full = hkl
    key = np.sort(np.abs(full), axis=1)
    base = int(key.max()) + 1
    ncol = key.shape[1]
    if (len(peak_of) + 1) * float(base) ** ncol > 2.0**62:
        return _families_slow(full, key, peak_of)
    code = peak_of.astype(np.int64)
    for i in range(ncol):
        code = code * base + key[:, i]
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_code)) + 1]
    counts = np.diff(np.r_[starts, len(code)])
    first = order[starts]  # stable sort: the earliest member of each group
    # representative: lexicographic maximum of the (positive) members
    width = 2 * int(np.abs(hkl).max()) + 1
    off = width // 2
    rank = ((hkl[:, 0] + off) * width + hkl[:, 1] + off) * width + (
        hkl[:, 2] + off
    )
    best = np.maximum.reduceat(rank[order], starts)
    best_h = np.column_stack(
        [
            best // width**2 - off,
            (best // width) % width - off,
            best % width - off,
        ]
    )
    if is_hex:
        rep = np.column_stack(
            [
                best_h[:, 0],
                best_h[:, 1],
                -best_h[:, 0] - best_h[:, 1],
                best_h[:, 2],
            ]
        )
    else:
        rep = best_h
    by_first = np.argsort(first, kind="stable")
    return (
        peak_of[first[by_first]],
        rep[by_first],
        2 * counts[by_first],
    )


def _families_slow(full, key, peak_of):
    """np.unique-based grouping for index ranges too large to pack."""
    rows = np.column_stack([peak_of, key])
    _, first, inverse, counts = np.unique(
        rows,
        axis=0,
        return_index=True,
        return_inverse=True,
        return_counts=True,
    )
    inverse = inverse.ravel()
    keys = tuple(full[:, i] for i in range(full.shape[1] - 1, -1, -1))
    order = np.lexsort(keys + (inverse,))
    last = np.r_[np.flatnonzero(np.diff(inverse[order])), len(order) - 1]
    rep = np.empty((len(first), full.shape[1]), dtype=int)
    rep[inverse[order][last]] = full[order][last]
    by_first = np.argsort(first, kind="stable")
    return peak_of[first[by_first]], rep[by_first], 2 * counts[by_first]


def stick_table(
    structure,
    wavelength="MoKa",
    two_theta_range=(0, 180),
    b_factors=None,
    u_iso=None,
    families=True,
    source=None,
):
    """Merged reflections of a structure with their unscaled intensities.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The crystal (any cell; occupancies and species as in pymatgen).
    wavelength : float or str
        Wavelength in angstrom or a line name.
    two_theta_range : (float, float) or None
        2-theta range in degrees; None for the whole limiting sphere.
    b_factors, u_iso : None, float, dict or sequence, optional
        Isotropic displacement (see :func:`displacement_b`).
    families : bool
        Compute hkl families (the slowest part for large cells).
    source : str, optional
        Name used in error messages.

    Returns
    -------
    dict
        ``two_theta``, ``intensity`` (with LP, unscaled, all peaks before the
        1e-3 cut), ``f2`` (sum of ``|F|^2`` over the peak), ``d``, ``keep``
        (peaks above the cut), and when ``families``: ``hkls`` for the kept
        peaks in pymatgen's format.
    """
    where = source or "structure"
    lam = resolve_wavelength(wavelength, "wavelength")
    min_r, max_r = _two_theta_limits(two_theta_range, lam)
    if not hasattr(structure, "lattice") or not hasattr(structure, "sites"):
        raise CrystalNetInputError(
            f"expected a pymatgen Structure, not {type(structure)}", where
        )
    sc = _scatterers(structure, where)
    b_iso = displacement_b(
        b_factors, sc["symbols"], sc["site_index"], len(structure), u_iso
    )
    ustar = _anisotropic_ustar(structure, sc, b_iso, where)
    hkl, g = enumerate_reflections(structure.lattice.matrix, min_r, max_r)
    if len(g) == 0:
        raise CrystalNetInputError(
            "no reflection in the 2-theta range at this wavelength", where
        )
    s2 = (g / 2) ** 2
    f2 = _structure_factor_sq(hkl, s2, sc, b_iso, ustar)
    theta = np.arcsin(np.clip(lam * g / 2, -1, 1))
    intensity = 2 * f2 * lorentz_polarization(theta)
    two_theta = np.degrees(2 * theta)
    keys = np.round(two_theta / TWO_THETA_TOL).astype(np.int64)
    # sorted by g, so equal keys are contiguous runs
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    peak_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(g)]))
    peak_i = np.add.reduceat(intensity, starts)
    peak_f2 = np.add.reduceat(2 * f2, starts)
    keep = peak_i / peak_i.max() * 100 > SCALED_INTENSITY_TOL
    table = dict(
        two_theta=two_theta[starts],
        intensity=peak_i,
        f2=peak_f2,
        d=1.0 / g[starts],
        keep=keep,
        wavelength=lam,
        hkl=hkl,
        peak_of=peak_of,
    )
    if families:
        is_hex = structure.lattice.is_hexagonal()
        table["hkls"] = HklFamilies(hkl, peak_of, is_hex, keep, len(starts))
    return table


def _anisotropic_ustar(structure, sc, b_iso, where):
    """U* of every scatterer from ``U11_cif``... site properties, or None."""
    ustar = None
    if "U11_cif" in structure.site_properties:
        if b_iso is not None:
            raise CrystalNetInputError(
                "b_factors/u_iso cannot be combined with U11_cif... site "
                "properties",
                where,
            )
        from pymatgen.analysis.diffraction.core import get_ustar

        ustar = get_ustar(structure)[sc["site_index"]]
    return ustar


class HklFamilies(Sequence):
    """The hkl families of each kept peak, in pymatgen's format, built on
    first use.

    A list of lists of ``{"hkl": tuple, "multiplicity": int}`` (four
    indices for hexagonal lattices), equal to the list it stands for.
    Building those dictionaries took half the time of a stick pattern, and
    most callers (profiles, training data, indexing) never read them.
    """

    def __init__(self, hkl, peak_of, is_hex, keep, n_peaks):
        self._args = (hkl, peak_of, is_hex, keep, n_peaks)
        self._list = None

    def _built(self):
        if self._list is None:
            self._list = _kept_hkls(*self._args)
            self._args = None
        return self._list

    def __getitem__(self, index):
        return self._built()[index]

    def __len__(self):
        return len(self._built())

    def __eq__(self, other):
        if isinstance(other, HklFamilies):
            other = other._built()
        return self._built() == other

    def __repr__(self):
        return repr(self._built())


def _kept_hkls(hkl, peak_of, is_hex, keep, n_peaks):
    """hkl families of the kept peaks in pymatgen's format."""
    fam_peak, rep, mult = _families(hkl, peak_of, is_hex)
    kept = np.flatnonzero(keep)
    slot = np.full(n_peaks, -1)
    slot[kept] = np.arange(len(kept))
    hkls = [[] for _ in kept]
    for p, r, m in zip(fam_peak.tolist(), rep.tolist(), mult.tolist()):
        s = slot[p]
        if s >= 0:
            hkls[s].append({"hkl": tuple(r), "multiplicity": m})
    return hkls


def simulate_pattern(
    structure,
    wavelength="MoKa",
    two_theta_range=(0, 180),
    profile=None,
    b_factors=None,
    scaled=True,
    u_iso=None,
):
    """Simulate the powder X-ray pattern of a structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The crystal.  Sites may be partially occupied or mixed; site
        properties ``U11_cif`` ... ``U12_cif`` give anisotropic displacement
        exactly as in XRDCalculator.
    wavelength : float or str
        Wavelength in angstrom or a line name (``"MoKa"``, ``"CuKa1"``...).
    two_theta_range : (float, float) or None
        2-theta range in degrees (None: the whole limiting sphere for
        sticks).
    profile : Profile or dict, optional
        Without it the result is a list of sticks; with it a profile on a
        grid (see :class:`~diffpy.crystalnet.physics.profiles.Profile`).
    b_factors : None, float, dict or sequence, optional
        Isotropic Debye-Waller B in angstrom^2: one for all atoms,
        ``{element: B}`` (the ``debye_waller_factors`` of XRDCalculator) or
        one per site.
    scaled : bool
        Sticks: scale the strongest peak to 100 (as XRDCalculator).  Ignored
        for profiles, which are scaled by ``profile.intensity_max``.
    u_iso : None, float, dict or sequence, optional
        Displacement as Uiso (angstrom^2) instead of B = 8 pi^2 Uiso.

    Returns
    -------
    StickPattern or Pattern
        Without a profile: a :class:`StickPattern` with ``x``, ``y``,
        ``hkls``, ``d_hkls`` like pymatgen's DiffractionPattern (call
        ``.to_pattern()`` for a
        :class:`~diffpy.crystalnet.physics.pattern.Pattern`).
        With a profile: a Pattern with ``kind="profile"``.

    Raises
    ------
    CrystalNetInputError
        For an unknown wavelength, an element without scattering factors,
        invalid displacement or profile settings.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> nacl = Structure.from_spacegroup(
    ...     "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
    ...     [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> sticks = simulate_pattern(nacl, "CuKa", (10, 90))
    >>> sticks.hkls[0]
    [{'hkl': (1, 1, 1), 'multiplicity': 8}]
    """
    profile = as_profile(profile)
    lam = resolve_wavelength(wavelength, "wavelength")
    if profile is None:
        return _simulate_sticks(
            structure, lam, two_theta_range, b_factors, u_iso, scaled
        )
    return _simulate_profile(
        structure, lam, two_theta_range, profile, b_factors, u_iso
    )


def _simulate_sticks(
    structure, lam, two_theta_range, b_factors, u_iso, scaled
):
    t = stick_table(structure, lam, two_theta_range, b_factors, u_iso=u_iso)
    keep = t["keep"]
    y = t["intensity"][keep]
    if scaled:
        y = y / (y.max() / 100.0)
    return StickPattern(
        x=t["two_theta"][keep],
        y=y,
        hkls=t["hkls"],
        d_hkls=t["d"][keep],
        wavelength=lam,
        metadata={"composition": structure.composition.reduced_formula},
    )


def _simulate_profile(structure, lam, two_theta_range, profile, b, u_iso):
    from diffpy.crystalnet.physics.pattern import Pattern

    if two_theta_range is None:
        two_theta_range = (0.0, 180.0)
    _two_theta_limits(two_theta_range, lam)  # validates the range
    lo, hi = (float(t) for t in two_theta_range)
    lam_sticks = lam
    if profile.kalpha2:
        doublet = kalpha_doublet(lam)
        if doublet is None:
            raise CrystalNetInputError(
                f"kalpha2 needs a K-alpha wavelength, not {lam:g} A",
                "profile",
            )
        lam_sticks = doublet[0]
    x, grid = profile_grid((lo, hi), profile, lam_sticks)
    # sticks a little beyond the grid so that peak tails enter it
    t = stick_table(
        structure,
        lam_sticks,
        (0.0, min(180.0, float(hi) + 5.0)),
        b,
        u_iso=u_iso,
        families=False,
    )
    y, sigma = synthesize_profile(
        t["two_theta"],
        t["intensity"],
        grid,
        profile,
        lam_sticks,
        background_x=x,
    )
    meta = {
        "composition": structure.composition.reduced_formula,
        "radiation": "Ka1+Ka2" if profile.kalpha2 else f"{lam:g} A",
        "simulated": True,
    }
    return Pattern(
        x=x,
        intensity=y,
        xtype=profile.xtype,
        wavelength=lam_sticks,
        sigma=sigma,
        kind="profile",
        source="simulated profile",
        metadata=meta,
    )
