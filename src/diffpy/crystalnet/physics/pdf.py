"""The atomic pair distribution function G(r) of a crystal.

The standard real-space sum over atom pairs (Egami & Billinge, *Underneath
the Bragg Peaks*, ch. 3; the PDFfit2 conventions, Farrow et al. 2007)::

    G(r) = scale * [ 1/(N r) sum_i sum_j' w_i w_j g(r; r_ij, s_ij)
                     - 4 pi r rho0 ] * exp(-(Qdamp r)^2 / 2) * f_sp(r)

- the sum runs over the atoms ``i`` of one unit cell and all atoms ``j`` of
  the crystal at 0 < r_ij, ``N`` is the number of atoms in the cell (sum of
  occupancies) and ``rho0 = N / V``;
- the weights are ``w_i = occ_i b_i / <b>`` with ``b`` the number of
  electrons (X-rays, the scattering factor at Q = 0) or the coherent
  neutron scattering length (from :mod:`periodictable`);
- ``g`` is a normalised Gaussian of variance
  ``s_ij^2 = (U_i + U_j) (1 - delta1 / r_ij - delta2 / r_ij^2
  + Qbroad^2 r_ij^2)`` (isotropic displacements; the delta terms sharpen
  near neighbours by correlated motion; a pair whose factor is not positive
  is left out);
- ``f_sp`` is the envelope of a spherical particle of diameter ``d``,
  ``1 - 3/2 (r/d) + 1/2 (r/d)^3`` for r < d;
- the finite Qmax of the measurement is imposed by removing every Fourier
  component above Qmax (the termination ripples), on a range extended by six
  ripples on each side.

Pairs with the same distance and width (the symmetry copies) are merged
before the Gaussians are evaluated, which makes a high-symmetry crystal cheap.
"""

from dataclasses import asdict, dataclass

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "RADIATIONS",
    "DEFAULT_UISO",
    "PDFParameters",
    "scattering_weights",
    "pair_table",
    "calculate_pdf",
    "pdf_from_arrays",
    "pdf_scale_scan",
    "orbit_multiplicity",
    "rw_factor",
]

#: "X" for X-rays, "N" for neutrons.
RADIATIONS = ("X", "N")
#: Isotropic displacement (angstrom^2) of an atom that has none.
DEFAULT_UISO = 0.005
#: Termination ripples added on each side of the range before the Qmax cut.
_RIPPLES = 6
#: Gaussians are evaluated out to this many standard deviations.
_WINDOW = 5.0


@dataclass
class PDFParameters:
    """The non-structural parameters of a calculated G(r).

    Parameters
    ----------
    scale : float
        Overall scale factor.
    delta1, delta2 : float
        Correlated-motion sharpening (angstrom and angstrom^2).
    qbroad : float
        Peak broadening from the Q resolution (1/angstrom).
    qdamp : float
        Gaussian damping of the PDF from the Q resolution (1/angstrom).
    spdiameter : float
        Diameter of a spherical particle (angstrom); 0 for a bulk crystal.
    qmax : float
        Largest Q of the measurement (1/angstrom); 0 for no termination.
    """

    scale: float = 1.0
    delta1: float = 0.0
    delta2: float = 0.0
    qbroad: float = 0.0
    qdamp: float = 0.0
    spdiameter: float = 0.0
    qmax: float = 0.0

    def as_dict(self):
        """The parameters as a plain dict."""
        return asdict(self)


def scattering_weights(symbols, radiation="X", where="structure"):
    """Scattering power of each element for a PDF.

    Parameters
    ----------
    symbols : sequence of str
        Element symbols (``"Fe"``, ``"D"``).
    radiation : {"X", "N"}
        X-rays: the number of electrons Z (the scattering factor at Q = 0,
        PDFfit2's convention); neutrons: the bound coherent scattering length
        b_c in fm (Sears 1992, via :mod:`periodictable`).
    where : str
        Named in error messages.

    Returns
    -------
    numpy.ndarray
        One weight per symbol.

    Raises
    ------
    CrystalNetInputError
        For an unknown radiation or element, or an element without a known
        neutron scattering length.
    """
    import periodictable

    if radiation not in RADIATIONS:
        raise CrystalNetInputError(
            f"radiation must be 'X' or 'N', not {radiation!r}", where
        )
    out = []
    for symbol in symbols:
        element = getattr(periodictable, str(symbol), None)
        kinds = (periodictable.core.Element, periodictable.core.Isotope)
        if not isinstance(element, kinds):
            raise CrystalNetInputError(f"unknown element {symbol!r}", where)
        if radiation == "X":
            out.append(float(element.number))
            continue
        b = element.neutron.b_c
        if b is None or not np.isfinite(b):
            raise CrystalNetInputError(
                f"no coherent neutron scattering length for {symbol}", where
            )
        out.append(float(b))
    return np.asarray(out, dtype=float)


def _atoms(structure, uiso, where):
    """Positions, element symbols, occupancies and Uiso of every atom.

    A disordered site becomes one atom per species at the same position.
    """
    n = len(structure)
    if uiso is None:
        uiso = [s.properties.get("Uiso", DEFAULT_UISO) for s in structure]
    u_site = np.broadcast_to(np.asarray(uiso, dtype=float), (n,))
    if np.any(~np.isfinite(u_site)) or np.any(u_site < 0):
        raise CrystalNetInputError("Uiso must be finite and >= 0", where)
    frac, symbols, occ, u = [], [], [], []
    for k, site in enumerate(structure):
        for species, amount in site.species.items():
            frac.append(site.frac_coords)
            symbols.append(getattr(species, "symbol", str(species)))
            occ.append(float(amount))
            u.append(u_site[k])
    return (
        np.asarray(frac, dtype=float),
        symbols,
        np.asarray(occ, dtype=float),
        np.asarray(u, dtype=float),
    )


def pair_table(matrix, frac, rmax, rmin=0.0, centres=None, chunk=2_000_000):
    """Every atom pair of a crystal up to a distance.

    Parameters
    ----------
    matrix : array_like, shape (3, 3)
        Lattice vectors as rows (angstrom).
    frac : array_like, shape (n, 3)
        Fractional coordinates of the atoms of one cell.
    rmax : float
        Largest distance kept (angstrom).
    rmin : float
        Smallest distance kept; pairs at zero distance are always dropped.
    centres : array_like of int, optional
        The atoms ``i`` the pairs start from (default all); one per
        symmetry orbit is enough when each is weighted by its multiplicity.
    chunk : int
        Largest number of distance vectors built at once.

    Returns
    -------
    tuple of numpy.ndarray
        ``(i, j, distance)``: ``i`` indexes an atom of the cell, ``j`` the
        atom whose periodic image is at that distance.
    """
    matrix = np.asarray(matrix, dtype=float)
    frac = np.asarray(frac, dtype=float) % 1.0
    # lattice translations that can bring an image within rmax: the
    # spacing of the lattice planes bounds each index
    recip = np.linalg.inv(matrix).T
    reach = np.ceil(rmax * np.linalg.norm(recip, axis=1)).astype(int) + 1
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij")
    shifts = np.stack([g.ravel() for g in grids], axis=1) @ matrix
    cart = frac @ matrix
    n = len(frac)
    centres = np.arange(n) if centres is None else np.asarray(centres, int)
    per_atom = max(1, chunk // max(1, n * len(shifts)))
    out_i, out_j, out_d = [], [], []
    images = (cart[:, None, :] + shifts[None, :, :]).reshape(-1, 3)
    owner = np.repeat(np.arange(n), len(shifts))
    for start in range(0, centres.size, per_atom):
        rows = centres[start : start + per_atom]
        block = cart[rows]
        dist = np.linalg.norm(images[None, :, :] - block[:, None, :], axis=2)
        keep = (dist <= rmax) & (dist >= rmin) & (dist > 1e-8)
        ii, jj = np.nonzero(keep)
        out_i.append(rows[ii])
        out_j.append(owner[jj])
        out_d.append(dist[ii, jj])
    return (
        np.concatenate(out_i),
        np.concatenate(out_j),
        np.concatenate(out_d),
    )


def _merge(dist, sigma, amp):
    """Sum the amplitudes of pairs with the same distance and width."""
    # one integer key: distance to 1e-7 A, width to 1e-8 A (well below
    # the grid step and any measurable difference in a width)
    dq = np.rint(dist * 1e7).astype(np.int64)
    sq = np.rint(sigma * 1e8).astype(np.int64)
    key = dq * (1 << 27) + sq
    uniq, first, inverse = np.unique(
        key, return_index=True, return_inverse=True
    )
    summed = np.bincount(inverse.ravel(), weights=amp)
    return dist[first], sigma[first], summed


def _gaussians(r0, dr, n, dist, sigma, amp, chunk=4_000_000):
    """Sum of normalised Gaussians on the grid r0 + k dr, k < n."""
    out = np.zeros(n)
    lo = np.maximum(np.rint((dist - _WINDOW * sigma - r0) / dr), 0)
    hi = np.minimum(np.rint((dist + _WINDOW * sigma - r0) / dr), n - 1)
    ok = hi >= lo
    lo, hi = lo[ok].astype(int), hi[ok].astype(int)
    dist, sigma, amp = dist[ok], sigma[ok], amp[ok]
    if not lo.size:
        return out
    width = int((hi - lo).max()) + 1
    step = max(1, chunk // width)
    offsets = np.arange(width)
    for s in range(0, lo.size, step):
        idx = lo[s : s + step, None] + offsets
        mask = idx <= hi[s : s + step, None]
        d = dist[s : s + step, None]
        sg = sigma[s : s + step, None]
        z = (r0 + idx * dr - d) / sg
        val = amp[s : s + step, None] / (np.sqrt(2 * np.pi) * sg)
        val = val * np.exp(-0.5 * z * z)
        out += np.bincount(idx[mask], weights=val[mask], minlength=n)
    return out


def _lowpass(values, dr, qmax):
    """Remove the Fourier components above qmax (zero-padded FFT)."""
    n = values.size
    pad = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(values, pad)
    q = 2 * np.pi * np.fft.rfftfreq(pad, dr)
    spectrum[q >= qmax] = 0.0
    return np.fft.irfft(spectrum, pad)[:n]


def _grid(r, where):
    r = np.asarray(r, dtype=float).ravel()
    if r.size < 3 or not np.all(np.isfinite(r)):
        raise CrystalNetInputError("r needs at least 3 finite values", where)
    dr = (r[-1] - r[0]) / (r.size - 1)
    if dr <= 0 or np.max(np.abs(np.diff(r) - dr)) > 1e-6 * max(dr, 1e-3):
        raise CrystalNetInputError(
            "r must be an increasing, evenly spaced grid", where
        )
    if r[0] <= 0:
        raise CrystalNetInputError("r must start above 0", where)
    return r, dr


def _widths(dist, u_pair, params):
    factor = (
        1.0
        - params.delta1 / dist
        - params.delta2 / dist**2
        + params.qbroad**2 * dist**2
    )
    s2 = u_pair * factor
    return np.sqrt(np.clip(s2, 0.0, None)), (factor > 0) & (s2 > 1e-12)


def calculate_pdf(
    structure,
    r,
    params=None,
    radiation="X",
    uiso=None,
    where="structure",
    symmetry=True,
):
    """G(r) of a crystal on an even r grid.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The crystal; partial occupancies are used as given.
    r : array_like
        Evenly spaced r values (angstrom), all above 0.
    params : PDFParameters, optional
        Scale, sharpening, damping, particle size and Qmax; defaults to a
        bulk crystal with no termination.
    radiation : {"X", "N"}
        The probe (see :func:`scattering_weights`).
    uiso : float or array_like, optional
        Isotropic displacement per site (angstrom^2); default each site's
        ``Uiso`` property, else :data:`DEFAULT_UISO`.
    where : str
        Named in error messages.
    symmetry : bool
        Start the pairs from one atom per symmetry orbit (spglib, exact for
        an ordered crystal with the same Uiso on every atom of an orbit;
        default True).

    Returns
    -------
    numpy.ndarray
        G(r) in 1/angstrom^2, same length as ``r``.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> ni = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.52),
    ...                                ["Ni"], [[0, 0, 0]])
    >>> r = np.arange(1, 3, 0.01)
    >>> g = calculate_pdf(ni, r, PDFParameters(qmax=30))
    >>> round(float(r[np.argmax(g)]), 1)  # nearest neighbours, a / sqrt(2)
    2.5
    """
    frac, symbols, occ, u = _atoms(structure, uiso, where)
    mult = None
    if symmetry and structure.is_ordered:
        mult = orbit_multiplicity(structure, u)
    return pdf_from_arrays(
        structure.lattice.matrix,
        frac,
        symbols,
        occ,
        u,
        r,
        params,
        radiation,
        where,
        mult,
    )


def orbit_multiplicity(structure, u=None, symprec=1e-3):
    """Per atom: its orbit size on one atom per orbit, 0 elsewhere.

    Orbits from spglib at ``symprec``, split where the atoms of an orbit
    have different ``u``; None when spglib finds no symmetry.
    """
    import spglib

    cell = (
        structure.lattice.matrix,
        structure.frac_coords,
        [site.specie.Z for site in structure],
    )
    data = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if data is None:
        return None
    equiv = np.asarray(data.equivalent_atoms)
    if u is not None:
        u = np.asarray(u, dtype=float)
        labels = {}
        equiv = np.array(
            [
                labels.setdefault((e, round(float(x), 12)), k)
                for k, (e, x) in enumerate(zip(equiv, u))
            ]
        )
    mult = np.zeros(len(structure))
    for rep in np.unique(equiv):
        members = np.flatnonzero(equiv == rep)
        mult[members[0]] = members.size
    return mult


def pdf_from_arrays(
    matrix,
    frac,
    symbols,
    occ,
    u,
    r,
    params=None,
    radiation="X",
    where="cell",
    multiplicity=None,
):
    """G(r) from the arrays of a cell (see :func:`calculate_pdf`).

    Parameters
    ----------
    matrix : array_like, shape (3, 3)
        Lattice vectors as rows (angstrom).
    frac : array_like, shape (n, 3)
        Fractional coordinates.
    symbols : sequence of str
        Element of each atom.
    occ, u : array_like, shape (n,)
        Occupancy and isotropic displacement (angstrom^2) of each atom.
    r, params, radiation, where
        As for :func:`calculate_pdf`.
    multiplicity : array_like of int, optional
        Per atom: the size of its symmetry orbit for one atom of each orbit
        and 0 for the others (the sum over pairs then starts from one atom
        per orbit, which is exact and that many times faster).  Default:
        every atom starts pairs.

    Returns
    -------
    numpy.ndarray
        G(r), same length as ``r``.
    """
    return pdf_scale_scan(
        matrix,
        frac,
        symbols,
        occ,
        u,
        r,
        [1.0],
        params,
        radiation,
        where,
        multiplicity,
    )[0]


# long: the G(r) recipe in order, one step a line or two
def pdf_scale_scan(
    matrix,
    frac,
    symbols,
    occ,
    u,
    r,
    scales,
    params=None,
    radiation="X",
    where="cell",
    multiplicity=None,
):
    """G(r) of a cell expanded isotropically by each of several factors.

    The pairs are found once; only their distances scale.  Arguments as for
    :func:`pdf_from_arrays`; ``scales`` are the factors applied to the cell
    edges.

    Returns
    -------
    numpy.ndarray, shape (len(scales), len(r))
    """
    params = params or PDFParameters()
    r, dr = _grid(r, where)
    scales = np.asarray(scales, dtype=float).ravel()
    matrix = np.asarray(matrix, dtype=float)
    occ = np.asarray(occ, dtype=float)
    u = np.asarray(u, dtype=float)
    b = scattering_weights(symbols, radiation, where)
    n_atoms = occ.sum()
    b_mean = float(np.dot(occ, b) / n_atoms)
    if b_mean == 0:
        raise CrystalNetInputError("the average scattering power is 0", where)
    w = occ * b / b_mean
    # the Qmax cut needs the peaks around the range, six ripples each side
    ext = _RIPPLES * 2 * np.pi / params.qmax if params.qmax > 0 else 0.0
    below = int(min(np.ceil(ext / dr), np.floor((r[0] - 1e-9) / dr)))
    above = int(np.ceil(ext / dr))
    r0 = r[0] - below * dr
    n = r.size + below + above
    rr = r0 + dr * np.arange(n)
    u_max = 2 * u.max() * (1 + params.qbroad**2 * rr[-1] ** 2) + 1e-4
    reach = (rr[-1] + _WINDOW * np.sqrt(u_max) + 0.1) / scales.min()
    if multiplicity is None:
        centres, mult = None, np.ones(len(w))
    else:
        mult = np.asarray(multiplicity, dtype=float)
        centres = np.flatnonzero(mult > 0)
    i, j, dist0 = pair_table(matrix, frac, reach, centres=centres)
    volume0 = abs(np.linalg.det(matrix))
    envelope = np.ones(n)
    if params.qdamp > 0:
        envelope *= np.exp(-0.5 * (rr * params.qdamp) ** 2)
    if params.spdiameter > 0:
        x = rr / params.spdiameter
        envelope *= np.where(x < 1, 1 - 1.5 * x + 0.5 * x**3, 0.0)
    out = np.empty((scales.size, r.size))
    for k, s in enumerate(scales):
        sigma, ok = _widths(dist0 * s, u[i] + u[j], params)
        amp = (w[i] * mult[i] * w[j])[ok]
        dist, sigma, amp = _merge(dist0[ok] * s, sigma[ok], amp)
        peaks = _gaussians(r0, dr, n, dist, sigma, amp)
        rho0 = n_atoms / (volume0 * s**3)
        g = peaks / (n_atoms * rr) - 4 * np.pi * rr * rho0
        g *= envelope * params.scale
        if params.qmax > 0:
            g = _lowpass(g, dr, params.qmax)
        out[k] = g[below : below + r.size]
    return out


def rw_factor(observed, calculated, sigma=None):
    """Weighted agreement factor Rw of two G(r) curves.

    ``Rw = sqrt(sum w (obs - calc)^2 / sum w obs^2)`` with ``w = 1/sigma^2``
    (unit weights when no uncertainties are given), PDFfit2's definition.
    """
    obs = np.asarray(observed, dtype=float)
    calc = np.asarray(calculated, dtype=float)
    w = 1.0 if sigma is None else 1.0 / np.asarray(sigma, dtype=float) ** 2
    den = np.sum(w * obs**2)
    return float(np.sqrt(np.sum(w * (obs - calc) ** 2) / den))
