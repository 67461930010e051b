"""Kinematic X-ray scattering of a crystal: atomic scattering factors,
reflections inside the limiting sphere, structure factors and displacement.

The scattering factor of an atom is the Gaussian-sum form of pymatgen's
``atomic_scattering_params.json``::

    f(s) = Z - 41.78214 s^2 sum_i a_i exp(-b_i s^2),   s = sin(theta)/lambda

multiplied by exp(-B s^2) when a displacement parameter B (angstrom^2,
B = 8 pi^2 Uiso) is given.  The reflections come from one integer grid
(:func:`enumerate_reflections`) and ``|F|^2`` from one (reflections x atoms)
product; :mod:`diffpy.crystalnet.physics.simulator` merges them into peaks.
"""

import json
import math
from importlib import resources

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "scattering_params",
    "enumerate_reflections",
    "displacement_b",
    "form_factors",
]

_PARAMS = None


def scattering_params():
    """pymatgen's Gaussian-sum scattering coefficients per element.

    Returns
    -------
    dict
        Element symbol -> (n, 2) numpy array of (a_i, b_i), read once from
        pymatgen's ``atomic_scattering_params.json``.
    """
    global _PARAMS
    if _PARAMS is None:
        path = resources.files("pymatgen.analysis.diffraction").joinpath(
            "atomic_scattering_params.json"
        )
        data = json.loads(path.read_text())
        _PARAMS = {el: np.asarray(v, dtype=float) for el, v in data.items()}
    return _PARAMS


def _two_theta_limits(two_theta_range, wavelength):
    """Reciprocal radii (1/d) of a 2-theta range, as XRDCalculator does."""
    if two_theta_range is None:
        return 0.0, 2.0 / wavelength
    try:
        lo, hi = (float(t) for t in two_theta_range)
    except (TypeError, ValueError):
        raise CrystalNetInputError(
            f"two_theta_range must be two numbers, not {two_theta_range!r}",
            "two_theta_range",
        )
    if not (0 <= lo < hi <= 180):
        raise CrystalNetInputError(
            f"two_theta_range {lo:g}-{hi:g} is not inside 0-180 degrees",
            "two_theta_range",
        )
    return tuple(
        2 * math.sin(math.radians(t / 2)) / wavelength for t in (lo, hi)
    )


def enumerate_reflections(lattice_matrix, min_r, max_r):
    """All reciprocal lattice points of one Friedel half-space in a shell.

    Parameters
    ----------
    lattice_matrix : array_like
        3x3 real-space lattice vectors (rows) in angstrom.
    min_r, max_r : float
        Shell radii in 1/angstrom (``|g| = 1/d``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Integer hkl of shape (M, 3), lexicographically positive, sorted by
        ``|g|`` and then by descending h, k, l as in XRDCalculator; and
        ``|g|``.
    """
    lattice_matrix = np.asarray(lattice_matrix, dtype=float)
    recip = np.linalg.inv(lattice_matrix).T  # rows a*, b*, c* (no 2 pi)
    metric = recip @ recip.T
    # |h| = |g . a| <= |g| |a|
    hmax = np.floor(max_r * np.linalg.norm(lattice_matrix, axis=1) + 1e-9)
    nh, nk, nl = (int(n) for n in hmax)
    h = np.arange(0, nh + 1, dtype=float)[:, None, None]
    k = np.arange(-nk, nk + 1, dtype=float)[None, :, None]
    ll = np.arange(-nl, nl + 1, dtype=float)[None, None, :]
    # 1/d^2 = h G* h^T on the whole box by broadcasting
    g2 = (
        metric[0, 0] * h * h
        + metric[1, 1] * k * k
        + metric[2, 2] * ll * ll
        + 2 * metric[0, 1] * h * k
        + 2 * metric[0, 2] * h * ll
        + 2 * metric[1, 2] * k * ll
    )
    keep = g2 <= (max_r + 1e-8) ** 2
    if min_r:
        keep &= g2 >= min_r**2
    # one Friedel half-space: h > 0, or h = 0 and k > 0, or h = k = 0, l > 0
    keep[0, :nk, :] = False
    keep[0, nk, : nl + 1] = False
    ih, ik, il = np.nonzero(keep)  # lexicographic (h, k, l) order
    grid = np.column_stack([ih, ik - nk, il - nl])
    cart = grid @ recip  # |g| as XRDCalculator computes it (Cartesian)
    g = np.sqrt(np.einsum("ij,ij->i", cart, cart))
    # sort by |g|, ties by descending (h, k, l) as XRDCalculator
    grid, g = grid[::-1], g[::-1]
    order = np.argsort(g, kind="stable")
    return grid[order], g[order]


def _scatterers(structure, where):
    """Per (site, species): fractional coords, occupancy, Z, coefficients."""
    params = scattering_params()
    frac, occ, z, coeff, symbols, site_index = [], [], [], [], [], []
    for i, site in enumerate(structure):
        for sp, occu in site.species.items():
            symbol = getattr(sp, "symbol", str(sp))
            if symbol not in params or getattr(sp, "Z", 0) < 1:
                raise CrystalNetInputError(
                    f"site {i}: no X-ray scattering factor for {symbol!r}",
                    where,
                )
            frac.append(site.frac_coords)
            occ.append(float(occu))
            z.append(float(sp.Z))
            coeff.append(params[symbol])
            symbols.append(symbol)
            site_index.append(i)
    if not frac:
        raise CrystalNetInputError("the structure has no atoms", where)
    return dict(
        frac=np.asarray(frac, dtype=float),
        occ=np.asarray(occ),
        z=np.asarray(z),
        coeff=np.asarray(coeff),
        symbols=symbols,
        site_index=np.asarray(site_index),
    )


def displacement_b(b_factors, symbols, site_index, n_sites, u_iso=None):
    """Isotropic B (angstrom^2) of every scatterer.

    Parameters
    ----------
    b_factors : None, float, dict or sequence
        One B for all atoms, ``{element: B}`` (elements not listed get 0), or
        one B per site of the structure.
    symbols : list of str
        Element of each scatterer.
    site_index : numpy.ndarray
        Site of each scatterer.
    n_sites : int
        Number of sites in the structure.
    u_iso : None, float, dict or sequence
        The same as ``b_factors`` in Uiso (angstrom^2), B = 8 pi^2 Uiso.

    Returns
    -------
    numpy.ndarray or None
        B per scatterer, or None when neither is given.
    """
    if b_factors is not None and u_iso is not None:
        raise CrystalNetInputError(
            "give b_factors or u_iso, not both", "b_factors"
        )
    value, name, factor = b_factors, "b_factors", 1.0
    if u_iso is not None:
        value, name, factor = u_iso, "u_iso", 8 * math.pi**2
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(symbols))
        if unknown:
            raise CrystalNetInputError(
                f"elements {unknown} are not in the structure", name
            )
        b = np.array([float(value.get(s, 0.0)) for s in symbols])
    elif np.ndim(value) == 0:
        b = np.full(len(symbols), float(value))
    else:
        per_site = np.asarray(value, dtype=float).ravel()
        if per_site.size != n_sites:
            raise CrystalNetInputError(
                f"{per_site.size} values for {n_sites} sites", name
            )
        b = per_site[site_index]
    b = b * factor
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise CrystalNetInputError(
            "displacement parameters must be finite and >= 0", name
        )
    return b


def form_factors(s2, z, coeff):
    """Atomic scattering factors f(s) for every reflection and scatterer.

    Parameters
    ----------
    s2 : numpy.ndarray
        (sin(theta)/lambda)^2 of the reflections, shape (M,).
    z : numpy.ndarray
        Atomic numbers, shape (N,).
    coeff : numpy.ndarray
        Gaussian coefficients, shape (N, n, 2).

    Returns
    -------
    numpy.ndarray
        Shape (M, N).
    """
    a = coeff[:, :, 0]
    b = coeff[:, :, 1]
    gauss = np.exp(-s2[:, None, None] * b[None]) * a[None]
    return z[None, :] - 41.78214 * s2[:, None] * gauss.sum(-1)


def _phase_factors(hkl, frac):
    """exp(2 pi i h.x) for all reflections and atoms, shape (M, N).

    Built from per-axis tables exp(2 pi i h x_j) for the few distinct
    indices h, so the (M, N) matrix needs two complex products instead of a
    sine and a cosine per entry (several times faster, same to 1e-13).
    """
    out = None
    for axis in range(3):
        h = hkl[:, axis]
        lo = int(h.min())
        index = np.arange(lo, int(h.max()) + 1, dtype=float)
        table = np.exp((2j * np.pi) * index[:, None] * frac[None, :, axis])
        factor = table[h - lo]
        if out is None:
            out = factor
        else:
            out *= factor
    return out


def _friedel_half(hkl):
    """Representatives of the Friedel pairs and the map back.

    Returns ``rep`` (indices of the reflections whose first non-zero
    index is positive, plus ``000``) and ``back`` such that reflection
    ``i`` has the ``|F|^2`` of ``hkl[rep][back[i]]``: ``h`` or ``-h``.
    """
    hkl = np.asarray(hkl, dtype=np.int64)
    first = np.where(
        hkl[:, 0] != 0,
        hkl[:, 0],
        np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]),
    )
    rep = np.flatnonzero(first >= 0)
    span = 2 * int(np.abs(hkl).max(initial=0)) + 1

    def code(v):
        return ((v[:, 0] * span) + v[:, 1]) * span + v[:, 2]

    canon = np.where((first >= 0)[:, None], hkl, -hkl)
    rep_code = code(hkl[rep])
    order = np.argsort(rep_code, kind="stable")
    pos = np.searchsorted(rep_code[order], code(canon))
    return rep, order[pos]


def _structure_factor_sq(hkl, s2, sc, b_iso, ustar, chunk=2_000_000):
    """``|F|^2`` for all reflections (one matrix product per chunk).

    Computed for one reflection of each Friedel pair: without anomalous
    scattering ``|F(-h)|^2 = |F(h)|^2`` (real form factors, displacement
    factors even in ``h``).
    """
    rep, back = _friedel_half(hkl)
    if rep.size < len(s2):
        return _structure_factor_sq(hkl[rep], s2[rep], sc, b_iso, ustar)[back]
    # form factors per distinct element, then gathered to the scatterers
    symbols = sc["symbols"]
    uniq = {s: i for i, s in enumerate(dict.fromkeys(symbols))}
    first = [symbols.index(s) for s in uniq]
    col = np.array([uniq[s] for s in symbols])
    n = len(symbols)
    rows = max(1, chunk // n)
    out = np.empty(len(s2))
    hklf = hkl.astype(float)
    for start in range(0, len(s2), rows):
        sl = slice(start, start + rows)
        f_el = form_factors(s2[sl], sc["z"][first], sc["coeff"][first])
        weight = f_el[:, col] * sc["occ"][None, :]
        if b_iso is not None:
            weight = weight * np.exp(-s2[sl, None] * b_iso[None, :])
        if ustar is not None:
            h = hklf[sl]
            weight = weight * np.exp(
                -2 * np.pi**2 * np.einsum("mi,nij,mj->mn", h, ustar, h)
            )
        phase = _phase_factors(hkl[sl], sc["frac"])
        f_re = np.einsum("mn,mn->m", weight, phase.real)
        f_im = np.einsum("mn,mn->m", weight, phase.imag)
        out[sl] = f_re * f_re + f_im * f_im
    return out
