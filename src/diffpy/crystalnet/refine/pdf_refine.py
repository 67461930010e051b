"""Real-space (PDF) refinement of a structure against a measured G(r).

:func:`refine_pdf` refines, by weighted least squares
(:func:`scipy.optimize.least_squares`, trust region with bounds), a
candidate against a measured G(r)
(:class:`~diffpy.crystalnet.physics.pdf_data.PairDistribution`)
with the space-group symmetry imposed exactly, as the Rietveld refinement
does (:mod:`diffpy.crystalnet.refine.symmetry`): the symmetrised standard
conventional cell, the cell constrained by the crystal system, each Wyckoff
orbit moved only along its allowed directions.  Parameter groups:

- ``scale``; ``lattice`` (within 5 % and 3 degrees of the start);
- ``coordinates`` (each orbit within 0.5 angstrom of its start);
- ``uiso``: one isotropic displacement per Wyckoff orbit (``uiso_by="site"``)
  or per element (``uiso_by="element"``), 1e-4 to 0.2 angstrom^2;
- ``delta2`` (and ``delta1``): correlated-motion sharpening;
- ``qdamp`` (and ``qbroad``): the instrument's Q resolution;
- ``spdiameter``: the diameter of spherical particles (nanoparticles).

The model is :func:`~diffpy.crystalnet.physics.pdf.pdf_from_arrays`, the
Jacobian forward differences.  Rw is PDFfit2's ``sqrt(sum w (Gobs -
Gcalc)^2 / sum w Gobs^2)`` with ``w = 1/dG^2`` where the file gives dG.
Esds are the square roots of the diagonal of ``(J^T W J)^-1`` times the
reduced chi-square; neighbouring G(r) points are correlated (the r grid
oversamples the pi/Qmax resolution), so they are lower bounds, as in
PDFfit2.
"""

import time

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.pdf import (
    DEFAULT_UISO,
    PDFParameters,
    pdf_from_arrays,
)
from diffpy.crystalnet.refine.pdf_result import PDFFitResult
from diffpy.crystalnet.refine.symmetry import (
    MAX_SHIFT,
    _cell_from,
    _lattice_mode,
    _Symmetry,
)

__all__ = ["PDF_GROUPS", "DEFAULT_PDF_REFINE", "refine_pdf"]

#: Parameter groups :func:`refine_pdf` knows.
PDF_GROUPS = (
    "scale",
    "lattice",
    "coordinates",
    "uiso",
    "delta1",
    "delta2",
    "qdamp",
    "qbroad",
    "spdiameter",
)
#: Groups refined by default.
DEFAULT_PDF_REFINE = (
    "scale",
    "lattice",
    "coordinates",
    "uiso",
    "delta2",
    "qdamp",
)
_LIMITS = {
    "delta1": (0.0, 5.0),
    "delta2": (0.0, 30.0),
    "qdamp": (0.0, 0.3),
    "qbroad": (0.0, 0.3),
    "spdiameter": (5.0, 5000.0),
}


class _PDFModel:
    """Parameters, bounds and the calculated G(r) of one refinement."""

    # long: the model's arrays and parameter layout, set up once
    def __init__(
        self, sym, r, start, refine, uiso_by, radiation, qmax, element_u=None
    ):
        self.sym, self.r, self.radiation, self.qmax = sym, r, radiation, qmax
        self.element_u = dict(element_u or {})
        conv = sym.structure
        self.angles = conv.lattice.angles
        self.mode = _lattice_mode(sym.system, self.angles)
        self.fixed = dict(
            zip(("a", "b", "c", "alpha", "beta", "gamma"), conv.lattice.abc)
        )
        self.fixed.update(zip(("alpha", "beta", "gamma"), self.angles))
        self.symbols, self.occ, self.site = [], [], []
        for k, site in enumerate(conv):
            for species, amount in site.species.items():
                self.symbols.append(getattr(species, "symbol", str(species)))
                self.occ.append(float(amount))
                self.site.append(k)
        self.occ, self.site = np.array(self.occ), np.array(self.site)
        # pairs start from one atom per orbit, weighted by the orbit size
        site_mult = np.zeros(len(conv))
        for orbit in sym.orbits:
            site_mult[orbit["rep"]] = len(orbit["members"])
        self.multiplicity = site_mult[self.site]
        self.names, self.values, self.lower, self.upper = [], [], [], []
        self.free = []
        self._layout(start, set(refine), uiso_by)
        self.values = np.array(self.values, dtype=float)

    def _add(self, name, value, lo, hi, free):
        self.names.append(name)
        self.values.append(float(np.clip(value, lo, hi)))
        self.lower.append(lo)
        self.upper.append(hi)
        self.free.append(bool(free))

    # long: one block per parameter group, in the order of the vector
    def _layout(self, start, refine, uiso_by):
        self._add(
            "scale", start.get("scale", 1.0), 1e-8, 1e8, "scale" in refine
        )
        for key in self.mode:
            v = self.fixed[key]
            lo, hi = (
                (v - 3.0, v + 3.0)
                if key in ("alpha", "beta", "gamma")
                else (v * 0.95, v * 1.05)
            )
            self._add(key, v, lo, hi, "lattice" in refine)
        matrix = self.sym.structure.lattice.matrix
        self.shift_slices = []
        for orbit in self.sym.orbits:
            first = len(self.names)
            d = orbit["directions"]
            for m, axis in enumerate(orbit["pivots"]):
                length = float(np.linalg.norm(d[:, m] @ matrix))
                bound = MAX_SHIFT / max(length, 1e-9)
                self._add(
                    f"{orbit['label']}.{'xyz'[axis]}",
                    0.0,
                    -bound,
                    bound,
                    "coordinates" in refine,
                )
            self.shift_slices.append(slice(first, len(self.names)))
        self._layout_uiso(start, refine, uiso_by)
        for key in ("delta1", "delta2", "qdamp", "qbroad", "spdiameter"):
            lo, hi = _LIMITS[key]
            value = start.get(key) or 0.0
            if key == "spdiameter":
                if key not in refine:  # 0: a bulk crystal
                    self._add(key, value, 0.0, hi, False)
                    continue
                value = value or 100.0
            self._add(key, value, lo, hi, key in refine)

    def _layout_uiso(self, start, refine, uiso_by):
        conv = self.sym.structure
        # the symmetrised cell loses site properties: the start Uiso is the
        # input's mean per element
        u0 = np.array(
            [
                self.element_u.get(s.species.elements[0].symbol)
                or DEFAULT_UISO
                for s in conv
            ],
            dtype=float,
        )
        u0 = np.where(np.isfinite(u0) & (u0 > 0), u0, DEFAULT_UISO)
        given = start.get("uiso")
        groups = {}
        if uiso_by == "element":
            for k, site in enumerate(conv):
                groups.setdefault(site.species.elements[0].symbol, []).append(
                    k
                )
        else:
            for orbit in self.sym.orbits:
                groups[orbit["label"]] = list(orbit["members"])
        self.u_index = np.zeros(len(conv), dtype=int)
        for label, members in groups.items():
            self.u_index[members] = len(self.names)
            value = float(np.mean(u0[members]))
            if isinstance(given, dict) and label in given:
                value = float(given[label])
            elif given is not None and not isinstance(given, dict):
                value = float(given)
            self._add(f"uiso.{label}", value, 1e-4, 0.2, "uiso" in refine)

    def cell(self, p):
        values = {k: p[self.names.index(k)] for k in self.mode}
        return _cell_from(values, self.mode, self.fixed)

    def arrays(self, vector):
        """Lattice matrix, fractional coordinates and Uiso per atom."""
        from pymatgen.core import Lattice

        cell = self.cell(vector)
        matrix = Lattice.from_parameters(*cell).matrix
        shifts = [vector[s] for s in self.shift_slices]
        frac = self.sym.positions(shifts)
        u_site = vector[self.u_index]
        return matrix, frac[self.site], u_site[self.site]

    def params(self, vector):
        get = dict(zip(self.names, vector))
        return PDFParameters(
            scale=get["scale"],
            delta1=get["delta1"],
            delta2=get["delta2"],
            qbroad=get["qbroad"],
            qdamp=get["qdamp"],
            spdiameter=get["spdiameter"],
            qmax=self.qmax,
        )

    def calc(self, vector):
        matrix, frac, u = self.arrays(vector)
        return pdf_from_arrays(
            matrix,
            frac,
            self.symbols,
            self.occ,
            u,
            self.r,
            self.params(vector),
            self.radiation,
            multiplicity=self.multiplicity,
        )


def _check(data, refine, uiso_by, rmin, rmax):
    if not getattr(data, "is_pdf", False):
        raise CrystalNetInputError(
            "a PDF refinement needs a G(r) (PairDistribution), not a "
            "diffraction pattern",
            getattr(data, "source", None) or "data",
        )
    unknown = sorted(set(refine) - set(PDF_GROUPS))
    if unknown:
        raise CrystalNetInputError(
            f"unknown parameter group(s) {unknown}; choose from "
            f"{list(PDF_GROUPS)}",
            "refine",
        )
    if uiso_by not in ("site", "element"):
        raise CrystalNetInputError(
            "uiso_by must be 'site' or 'element'", "uiso_by"
        )
    lo = max(float(data.r[0]), 1.0) if rmin is None else float(rmin)
    hi = float(data.r[-1]) if rmax is None else float(rmax)
    mask = (data.r >= lo - 1e-9) & (data.r <= hi + 1e-9) & (data.r > 0)
    if mask.sum() < 20 or not hi > lo:
        raise CrystalNetInputError(
            f"the fit range {lo:g}-{hi:g} A holds fewer than 20 points",
            data.source or "G(r)",
        )
    return mask


def _start(data, start, refine):
    start = dict(start or {})
    if data.qdamp is not None:
        start.setdefault("qdamp", data.qdamp)
    elif "qdamp" in refine:
        start.setdefault("qdamp", 0.03)
    if data.qbroad is not None:
        start.setdefault("qbroad", data.qbroad)
    return start


def _linear_scale(model, vector, obs, w):
    """Start scale: the least-squares factor between calc and obs."""
    k = model.names.index("scale")
    vector = vector.copy()
    vector[k] = 1.0
    calc = model.calc(vector)
    den = np.sum(w * calc * calc)
    if den > 0:
        s = float(np.sum(w * calc * obs) / den)
        vector[k] = np.clip(s if s > 0 else 1.0, 1e-8, 1e8)
    return vector


# long: the refinement in order (checks, model, start, optimise, result)
def refine_pdf(
    structure,
    data,
    refine=DEFAULT_PDF_REFINE,
    rmin=None,
    rmax=None,
    uiso_by="site",
    start=None,
    symprec=0.01,
    radiation=None,
    qmax=None,
    max_nfev=200,
):
    """Refine a structure against a measured pair distribution function.

    Parameters
    ----------
    structure : pymatgen.core.Structure or diffpy.structure.Structure
        The candidate (the mean ``Uiso`` site property of each element is
        the start displacement where present, else 0.005).
    data : PairDistribution
        The measured G(r) (:func:`diffpy.crystalnet.io.pdf_files.load_pdf`).
    refine : sequence of str, optional
        Parameter groups (:data:`PDF_GROUPS`); default
        :data:`DEFAULT_PDF_REFINE`.  The others stay at their start values.
    rmin, rmax : float, optional
        Fit range in angstrom (default from max(1, first r) to the last r).
    uiso_by : {"site", "element"}
        One Uiso per Wyckoff orbit or per element.
    start : dict, optional
        Start values: ``scale``, ``delta1``, ``delta2``, ``qdamp``,
        ``qbroad``, ``spdiameter``, ``uiso`` (a number or a dict label ->
        value).  Qdamp and Qbroad default to the file's values.
    symprec : float
        Symmetry tolerance (angstrom) for the space group of the structure.
    radiation : {"X", "N"}, optional
        Overrides the data's radiation (needed when the file does not say).
    qmax : float, optional
        Overrides the data's Qmax; 0 for no termination ripples.
    max_nfev : int
        Largest number of residual evaluations.

    Returns
    -------
    PDFFitResult
        The refined structure, Rw, parameters and esds, and the curves.

    Raises
    ------
    CrystalNetInputError
        For data that is not a G(r), an unknown group, an empty fit range,
        a structure without atoms, or no radiation known.

    Examples
    --------
    >>> fit = refine_pdf(candidate, load_pdf("Ni.gr"))  # doctest: +SKIP
    >>> fit.rw, fit.parameters["a"], fit.esd["a"]  # doctest: +SKIP
    """
    from scipy.optimize import least_squares

    from diffpy.crystalnet.io.structures import as_pymatgen_structure

    t0 = time.perf_counter()
    refine = tuple(refine)
    mask = _check(data, refine, uiso_by, rmin, rmax)
    radiation = radiation or data.radiation
    if radiation not in ("X", "N"):
        raise CrystalNetInputError(
            "the radiation is not known: give radiation='X' or 'N'",
            data.source or "G(r)",
        )
    qmax = data.qmax if qmax is None else float(qmax)
    structure = as_pymatgen_structure(structure)
    if len(structure) == 0:
        raise CrystalNetInputError("the structure has no atoms", "structure")
    sym = _Symmetry(structure, symprec, "structure")
    r, obs = data.r[mask], data.g[mask]
    sigma = None if data.sigma is None else data.sigma[mask]
    w = np.ones_like(obs) if sigma is None else 1.0 / sigma**2
    element_u = {}
    for site in structure:
        u = site.properties.get("Uiso")
        if u is not None and np.isfinite(u) and u > 0:
            element_u.setdefault(site.species.elements[0].symbol, []).append(u)
    element_u = {e: float(np.mean(v)) for e, v in element_u.items()}
    model = _PDFModel(
        sym,
        r,
        _start(data, start, refine),
        refine,
        uiso_by,
        radiation,
        qmax or 0.0,
        element_u,
    )
    vector = model.values
    if "scale" in refine:
        vector = _linear_scale(model, vector, obs, w)
    free = np.flatnonzero(model.free)
    sqrt_w = np.sqrt(w)
    lower, upper = np.array(model.lower), np.array(model.upper)

    def full(sub):
        v = vector.copy()
        v[free] = sub
        return v

    def residual(sub):
        return (model.calc(full(sub)) - obs) * sqrt_w

    result = None
    if free.size:
        result = least_squares(
            residual,
            vector[free],
            bounds=(lower[free], upper[free]),
            x_scale="jac",
            max_nfev=max_nfev,
            diff_step=1e-6,
        )
        vector = full(result.x)
    return PDFFitResult.build(
        model, vector, free, result, r, obs, sigma, time.perf_counter() - t0
    )
