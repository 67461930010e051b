"""Solve a structure from a measured PDF: candidates ranked by Rw on G(r).

A G(r) cannot be indexed like a powder pattern, but its first peaks fix the
interatomic distances.  :func:`solve_pdf`:

1. **Candidates**: every decoration of every structure type of the isotype
   library (:mod:`diffpy.crystalnet.isotypes`) that fits the composition,
   plus any structures you pass (``candidates=``, e.g. from a PXRD solve).
   With a ``lattice``, only types of its crystal system with a cell of the
   same volume (to 15 %) are kept, placed on that cell (in its axis
   setting: give the standard conventional cell).
2. **Screen**: each candidate's cell is scaled isotropically (0.8-1.25 of
   its start, 1 % steps; not when a ``lattice`` is given) and its G(r) over
   ``screen_rmax`` (default 10 angstrom) compared with the data, the scale
   solved linearly; the best scale and its Rw are kept.
3. **Refine** the ``top`` best (default 8) up to ``rank_rmax`` (12
   angstrom; :func:`~diffpy.crystalnet.refine.pdf_refine.refine_pdf`: scale,
   lattice, Uiso per element, delta2, Qdamp), then the ``top_coordinates``
   best (default 3) over the whole fit range, first as they are and then
   with their coordinates free within the space group, and rank those by
   Rw (the others keep their short-range Rw and rank after them).
   Candidates that refine to the same structure (pymatgen
   ``StructureMatcher``) are merged, keeping the description with fewer
   refined parameters unless the other's Rw is lower by over 5 % (a
   structure type and the same structure decorated in a subgroup).

Rw on G(r) does not penalise extra parameters: compare the Rw of candidates
with very different numbers of free coordinates with care.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.pdf import (
    DEFAULT_UISO,
    PDFParameters,
    orbit_multiplicity,
    pdf_scale_scan,
)
from diffpy.crystalnet.refine.pdf_refine import (
    DEFAULT_PDF_REFINE,
    refine_pdf,
)
from diffpy.crystalnet.refine.symmetry import free_coordinate_count

__all__ = ["PDFCandidate", "PDFSolveResult", "solve_pdf", "rank_with_pdf"]

#: Relative Rw difference within which two refinements of the same
#: structure count as equally good (the one with fewer parameters is kept).
SAME_FIT = 0.05
_SCALES = np.exp(np.linspace(np.log(0.8), np.log(1.25), 46))


@dataclass
class PDFCandidate:
    """One ranked candidate of :func:`solve_pdf`."""

    label: str
    source: str
    screen_rw: float
    fit: object = None

    @property
    def rw(self):
        """Rw of the refinement (the screen's Rw when not refined)."""
        return self.fit.rw if self.fit is not None else self.screen_rw

    @property
    def structure(self):
        """The refined structure."""
        return self.fit.structure if self.fit is not None else None


@dataclass
class PDFSolveResult:
    """Ranked candidates of :func:`solve_pdf` and what was tried."""

    candidates: list
    screened: int
    composition: str
    seconds: float
    warnings: list = field(default_factory=list)

    @property
    def best(self):
        """The rank-1 candidate, or None."""
        return self.candidates[0] if self.candidates else None

    def table(self):
        """One line per candidate: rank, formula, group, Rw, source."""
        lines = ["rank  formula      space group   Rw      screen  source"]
        for k, c in enumerate(self.candidates, 1):
            sg = c.fit.space_group if c.fit is not None else "?"
            formula = c.structure.composition.reduced_formula
            lines.append(
                f"{k:>4}  {formula:<12} {sg:<12} {c.rw:7.4f} "
                f"{c.screen_rw:7.4f}  {c.label}"
            )
        return "\n".join(lines)


def _library_candidates(composition, lattice):
    from diffpy.crystalnet.isotypes.decorations import decorations
    from diffpy.crystalnet.isotypes.library import load_isotype_library

    out = []
    for prototype in load_isotype_library():
        try:
            decorated = decorations(prototype, composition)
        except CrystalNetInputError:
            continue
        for s in decorated:
            if lattice is not None:
                s = _on_lattice(s, prototype, lattice)
                if s is None:
                    continue
            out.append((prototype.label, "isotype", s))
    return out


def _on_lattice(structure, prototype, lattice):
    """The structure on the given lattice when the system and the volume
    per formula unit fit, else None."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    system = SpacegroupAnalyzer(lattice_only(lattice)).get_crystal_system()
    if prototype.system != system:
        return None
    ratio = lattice.volume / structure.lattice.volume
    if not 0.85 < ratio < 1.15:
        return None
    return Structure(lattice, structure.species, structure.frac_coords)


def lattice_only(lattice):
    """A one-atom structure on a lattice (for its crystal system)."""
    from pymatgen.core import Structure

    return Structure(lattice, ["H"], [[0, 0, 0]])


def _screen(structure, r, obs, w, radiation, qmax, qdamp, scales=_SCALES):
    """Best isotropic cell scale and its Rw over the screening range."""
    if not structure.is_ordered:
        return np.inf, 1.0
    calc = pdf_scale_scan(
        structure.lattice.matrix,
        structure.frac_coords,
        [s.specie.symbol for s in structure],
        np.ones(len(structure)),
        np.full(len(structure), DEFAULT_UISO),
        r,
        scales,
        PDFParameters(qmax=qmax, qdamp=qdamp),
        radiation,
        multiplicity=orbit_multiplicity(structure),
    )
    den = np.sum(w * calc * calc, axis=1)
    k = np.where(den > 0, np.sum(w * calc * obs, axis=1) / den, 0.0)
    resid = np.sum(w * (obs - k[:, None] * calc) ** 2, axis=1)
    rw = np.sqrt(resid / np.sum(w * obs**2))
    rw[k <= 0] = np.inf
    best = int(np.argmin(rw))
    return float(rw[best]), float(scales[best])


def _screened(items, data, radiation, qmax, rmin, screen_rmax, scales):
    mask = (data.r >= max(rmin, 1.0)) & (data.r <= screen_rmax)
    r, obs = data.r[mask], data.g[mask]
    w = np.ones_like(obs) if data.sigma is None else data.sigma[mask] ** -2
    qdamp = data.qdamp if data.qdamp is not None else 0.03
    out = []
    for label, source, structure in items:
        rw, s = _screen(structure, r, obs, w, radiation, qmax, qdamp, scales)
        if not np.isfinite(rw):
            continue
        scaled = structure.copy()
        scaled.scale_lattice(structure.volume * s**3)
        out.append((rw, label, source, scaled))
    out.sort(key=lambda t: t[0])
    return out


def _start_of(fit):
    """Start values of a refinement from an earlier one."""
    p = fit.parameters
    start = {k: p[k] for k in ("scale", "delta2", "qdamp")}
    start["uiso"] = {
        k.split(".", 1)[1]: v for k, v in p.items() if k.startswith("uiso.")
    }
    return start


def _merge(ranked):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    kept = []
    for c in ranked:
        same = [
            i
            for i, k in enumerate(kept)
            if matcher.fit(c.structure, k.structure)
        ]
        if not same:
            kept.append(c)
            continue
        # the same structure twice (a type and its subgroup decoration):
        # keep the description with fewer parameters unless the other
        # fits clearly better (Rw lower by over SAME_FIT)
        k = kept[same[0]]
        if (
            c.fit is not None
            and k.fit is not None
            and c.fit.n_parameters < k.fit.n_parameters
            and c.rw <= k.rw * (1 + SAME_FIT)
        ):
            kept[same[0]] = c
    return kept


# long: the three steps in order, each a few lines
def solve_pdf(
    data,
    composition,
    lattice=None,
    candidates=None,
    top=8,
    top_coordinates=3,
    max_coordinates=24,
    rmin=None,
    rmax=None,
    screen_rmax=10.0,
    rank_rmax=12.0,
    radiation=None,
    library=True,
    max_nfev=60,
):
    """Rank candidate structures by their fit to a measured G(r).

    Parameters
    ----------
    data : PairDistribution
        The measured G(r) (:func:`diffpy.crystalnet.io.pdf_files.load_pdf`).
    composition : str
        The formula (``"LaMnO3"``).
    lattice : pymatgen.core.Lattice, optional
        The conventional cell, when known (from PXRD indexing): keeps the
        structure types of its system and volume and places them on it.
    candidates : sequence of Structure or (label, Structure), optional
        Further candidates (a PXRD solve's, a user's CIFs).
    top : int
        How many screened candidates are refined with fixed coordinates
        (default 8).
    top_coordinates : int
        How many of those, the best, are then refined with their
        coordinates free (default 3).
    max_coordinates : int
        Candidates with more free coordinates than this (low-symmetry
        decorations of large cells) keep their coordinates fixed.
    rmin, rmax : float, optional
        Fit range (default max(1, first r) to the last r).
    screen_rmax : float
        Upper end of the screening range (angstrom).
    rank_rmax : float
        Upper end of the range of the first refinement (fixed coordinates,
        angstrom); the final refinements use the whole fit range.
    radiation : {"X", "N"}, optional
        Overrides the data's radiation.
    library : bool
        Use the isotype library (default True).
    max_nfev : int
        Residual evaluations per refinement.

    Returns
    -------
    PDFSolveResult
        Candidates ranked by Rw, best first.

    Raises
    ------
    CrystalNetInputError
        For data that is not a G(r), no radiation, a bad formula or no
        candidate at all.
    """
    from pymatgen.core import Composition

    t0 = time.perf_counter()
    if not getattr(data, "is_pdf", False):
        raise CrystalNetInputError(
            "solve_pdf needs a G(r) (PairDistribution)", "data"
        )
    radiation = radiation or data.radiation
    if radiation not in ("X", "N"):
        raise CrystalNetInputError(
            "the radiation is not known: give radiation 'X' or 'N'",
            data.source or "G(r)",
        )
    try:
        comp = Composition(composition)
    except Exception as exc:  # pymatgen raises several types
        raise CrystalNetInputError(f"bad formula: {exc}", "composition")
    items = _library_candidates(comp, lattice) if library else []
    for k, c in enumerate(candidates or []):
        label, s = c if isinstance(c, tuple) else (f"given-{k + 1}", c)
        items.append((label, "given", s))
    if not items:
        raise CrystalNetInputError(
            f"no structure type of the library fits {comp.reduced_formula}"
            + (" on the given lattice" if lattice is not None else "")
            + "; give candidates",
            "composition",
        )
    qmax = data.qmax or 0.0
    lo = max(float(data.r[0]), 1.0) if rmin is None else float(rmin)
    # a given cell is kept (the lattice refinement moves it up to 5 %)
    scales = _SCALES if lattice is None else np.ones(1)
    screened = _screened(items, data, radiation, qmax, lo, screen_rmax, scales)
    ranked, warnings = [], []
    kw = dict(
        rmin=lo,
        rmax=rmax,
        uiso_by="element",
        radiation=radiation,
        max_nfev=max_nfev,
    )
    fixed_xyz = tuple(g for g in DEFAULT_PDF_REFINE if g != "coordinates")
    short = dict(kw, rmax=min(rmax or data.r[-1], rank_rmax), max_nfev=30)
    for rw, label, source, structure in screened[:top]:
        try:
            fit = refine_pdf(structure, data, refine=fixed_xyz, **short)
        except CrystalNetInputError as exc:
            warnings.append(f"{label}: not refined ({exc.problem})")
            continue
        ranked.append(PDFCandidate(label, source, rw, fit))
    ranked.sort(key=lambda c: c.rw)
    for c in ranked[:top_coordinates]:
        full = refine_pdf(
            c.fit.structure,
            data,
            refine=fixed_xyz,
            start=_start_of(c.fit),
            **kw,
        )
        c.fit = full
        n_xyz = free_coordinate_count(c.fit.structure)
        if n_xyz > max_coordinates:
            warnings.append(
                f"{c.label}: {n_xyz} free coordinates (over "
                f"{max_coordinates}); refined with fixed coordinates only"
            )
            continue
        free = refine_pdf(c.fit.structure, data, start=_start_of(c.fit), **kw)
        if free.rw < c.fit.rw:
            c.fit = free
    # the full-range fits first, by Rw; then the short-range ones
    head = sorted(ranked[:top_coordinates], key=lambda c: c.rw)
    ranked = _merge(head + ranked[top_coordinates:])
    return PDFSolveResult(
        candidates=ranked,
        screened=len(screened),
        composition=comp.reduced_formula,
        seconds=time.perf_counter() - t0,
        warnings=warnings,
    )


def rank_with_pdf(result, pdf_path, top=5, within=2.0):
    """Refine the ``top`` candidates of a PXRD solve against a G(r) too.

    Only candidates whose Rwp is within ``within`` times the best Rwp are
    refined (the others are not contenders, and a large low-symmetry cell
    costs minutes); they are listed after the others without a PDF fit.

    The coordinates stay as the PXRD refinement left them (scale, lattice,
    Uiso per element, delta2 and Qdamp are refined): the question is
    whether the same structure explains the local order too.  Returns a
    list of dicts (candidate, PDF fit or None, joint score), best first:
    the score is Rwp / best Rwp + Rw / best Rw, so both data weigh alike
    whatever their noise level.
    """
    from diffpy.crystalnet.io.pdf_files import load_pdf

    data = load_pdf(pdf_path)
    refine = tuple(g for g in DEFAULT_PDF_REFINE if g != "coordinates")
    rows = []
    rwps = [c.rwp for c in list(result)[:top] if c.rwp]
    limit = within * min(rwps) if rwps else float("inf")
    for cand in list(result)[:top]:
        if cand.rwp and cand.rwp > limit:
            note = f"Rwp over {within:g} x the best: not fitted to G(r)"
            rows.append(dict(candidate=cand, fit=None, note=note))
            continue
        try:
            fit = refine_pdf(
                cand.structure,
                data,
                refine=refine,
                uiso_by="element",
                # Uiso from 0.005: a Rietveld B soaks up other errors
                start=dict(uiso=0.005),
                max_nfev=60,
            )
        except CrystalNetInputError as exc:
            rows.append(dict(candidate=cand, fit=None, note=exc.problem))
            continue
        rows.append(dict(candidate=cand, fit=fit, note=""))
    fitted = [r for r in rows if r["fit"] is not None and r["candidate"].rwp]
    if fitted:
        best_rwp = min(r["candidate"].rwp for r in fitted)
        best_rw = min(r["fit"].rw for r in fitted)
        for r in fitted:
            r["score"] = r["candidate"].rwp / best_rwp + r["fit"].rw / best_rw
    rows.sort(key=lambda r: r.get("score", float("inf")))
    return rows
