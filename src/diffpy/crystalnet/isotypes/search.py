"""Isotypic candidates: search-match against a library of structure types.

Beside the network's samples, a crystallographer's first question about a
new powder pattern is whether the compound simply adopts a known structure
type.  This module answers it: the shipped prototype library
(:func:`~diffpy.crystalnet.isotypes.library.load_isotype_library`) is
re-decorated with the user's composition
(:func:`~diffpy.crystalnet.isotypes.decorations.decorations`), every
decorated prototype is put on the measured lattice, and the ones whose
computed patterns best match the data are returned, ranked by the same
Rietveld-style fit as the network's candidates (:func:`search_isotypes`).

The steps: :mod:`~diffpy.crystalnet.isotypes.library` (the prototypes),
:mod:`~diffpy.crystalnet.isotypes.decorations` (a composition on a
prototype), :mod:`~diffpy.crystalnet.isotypes.screen` (prototypes on a
cell, the quick screen) and :mod:`~diffpy.crystalnet.isotypes.axial` (the
prototype scan); this module runs them.

Search
------
For every compatible prototype (same crystal family as the lattice, a
sensible volume of 5-60 angstrom^3 per atom) and decoration, the
prototype's cell takes the measured lattice parameters (cubic: a;
tetragonal and hexagonal axes: a, c; orthorhombic: a, b, c in each order)
and keeps its own atomic coordinates.  Without ``lattices`` the pattern is
indexed (:func:`~diffpy.crystalnet.index.indexing.index_pattern`) and the
first ``lattice_solutions`` cells are tried, each with its refined zero
shift; cubic prototypes are also put on the cell that lines their
strongest reflections up with the strongest observed peaks
(``cubic_scan``), so a cubic type is found when indexing fails or prefers
another cell.  The hexagonal, trigonal and tetragonal prototypes are
scanned in the same way (``axial_scan``): each keeps its own axial ratio
c/a and is scaled isotropically; for the best screened of these (at most
:data:`~diffpy.crystalnet.isotypes.axial.AXIAL_REFINED`, within
``screen_margin``) c/a is then refined by the screen within
:data:`~diffpy.crystalnet.isotypes.axial.AXIAL_TOL` before the fit.

A quick screen (:mod:`~diffpy.crystalnet.isotypes.screen`) ranks the
candidates.  The best screened ones are fitted with
:func:`~diffpy.crystalnet.refine.profile_fit.fit_candidate` (its default
parameters plus an isotropic strain, at most :data:`FIT_MAX_NFEV`
evaluations) and ranked by Rwp: at most ``n_fit``, only those within
``screen_margin`` of the best screen, and one per structure (pymatgen
``StructureMatcher``; a prototype with one element per slot is preferred to
a merged decoration giving the same structure).  A given cell may be a
little off: its fit starts from the isotropic strain (within 0.6 %) that
screens best.
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.isotypes.axial import (
    _refine_best_scanned,
    _scan_trials,
    _scanned_families,
)
from diffpy.crystalnet.isotypes.decorations import (
    _as_composition,
    _integer_counts,
    _merged,
    _spacegroup,
    decoration_maps,
)
from diffpy.crystalnet.isotypes.library import (
    _shipped_library,
    stoichiometry_of,
)
from diffpy.crystalnet.isotypes.screen import (
    _as_lattice,
    _chosen,
    _lattice_family,
    _placed_trials,
    _Screen,
    _unique_profiles,
)
from diffpy.crystalnet.physics.lattice import CRYSTAL_SYSTEMS

__all__ = [
    "FIT_MAX_NFEV",
    "SEARCHABLE",
    "IsotypeCandidate",
    "search_isotypes",
]

log = logging.getLogger(__name__)

#: systems that search_isotypes can put on a measured lattice
SEARCHABLE = tuple(s for s in CRYSTAL_SYSTEMS if s != "triclinic")

#: most model evaluations of each profile fit (a right candidate converges
#: in 20-40; wrong ones would otherwise use the fit's default 200)
FIT_MAX_NFEV = 60


@dataclass(eq=False)
class IsotypeCandidate:
    """A decorated prototype that matches the pattern.

    Attributes
    ----------
    structure : pymatgen.core.Structure
        The decorated prototype on the measured lattice (conventional
        cell), scaled by the strain refined in the fit.
    prototype : str
        Label of the prototype
        (:attr:`~diffpy.crystalnet.isotypes.library.Prototype.label`).
    name : str
        Common name of the prototype (may be empty).
    spacegroup_symbol : str
    spacegroup_number : int
    rwp : float or None
        Rwp of the profile fit (None when not fitted).
    fit : diffpy.crystalnet.refine.profile_fit.FitResult or None
        The profile fit.
    decoration : dict
        Slot -> element.
    screen : float
        The quick screening R factor (lower is better).
    lattice_info : dict
        Where the lattice came from (``"given"`` or ``"indexed"`` with
        rank and M20) and its parameters.
    also : list of str
        Other prototypes (labels) that gave the same computed pattern.
    merged : bool
        Whether the decoration puts one element on several slots of the
        prototype (the space group is then that of the decorated
        structure, which may be higher than the prototype's).
    """

    structure: object
    prototype: str
    name: str
    spacegroup_symbol: str
    spacegroup_number: int
    rwp: float
    fit: object
    decoration: dict
    screen: float
    lattice_info: dict = field(default_factory=dict)
    also: list = field(default_factory=list)
    merged: bool = False

    @property
    def formula(self):
        """Reduced formula of the structure (str)."""
        return self.structure.composition.reduced_formula

    def summary(self):
        """One line describing the candidate (str)."""
        rwp = "not fitted" if self.rwp is None else f"Rwp {self.rwp:.4f}"
        name = f" ({self.name})" if self.name else ""
        a, b, c = self.structure.lattice.abc
        return (
            f"{self.formula} as {self.prototype}{name}, "
            f"{self.spacegroup_symbol} (#{self.spacegroup_number}), "
            f"a={a:.4f} b={b:.4f} c={c:.4f}: {rwp}, "
            f"screen {self.screen:.3f}"
        )


def _check_systems(systems):
    if systems is None:
        return tuple(SEARCHABLE)
    if isinstance(systems, str):
        systems = (systems,)
    systems = tuple(str(s).lower() for s in systems)
    unknown = [s for s in systems if s not in CRYSTAL_SYSTEMS]
    if unknown or not systems:
        raise CrystalNetInputError(
            f"unknown crystal system(s) {unknown}; use {SEARCHABLE}",
            "systems",
        )
    return systems


def _positive_int(value, name, low=1):
    if isinstance(value, bool):
        raise CrystalNetInputError(f"{name} must be an integer", name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CrystalNetInputError(
            f"{name} must be an integer, not {value!r}", name
        ) from None
    if number != value or number < low:
        raise CrystalNetInputError(
            f"{name} must be an integer >= {low}, not {value!r}", name
        )
    return number


# long: the numpydoc docstring of its 16 parameters; the body (66 lines)
# runs the steps, each in a helper
def search_isotypes(
    pattern,
    composition,
    lattices=None,
    top=5,
    systems=None,
    max_candidates=1000,
    fit=True,
    n_fit=None,
    lattice_solutions=3,
    screen_margin=0.5,
    merge=True,
    cubic_scan=True,
    axial_scan=True,
    peaks=None,
    library=None,
    timings=None,
    solutions=None,
):
    """Find the structure types whose decorated patterns match the data.

    Parameters
    ----------
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        The measured profile, with its wavelength.
    composition : str or pymatgen.core.Composition or dict
        The formula (any number of formula units).
    lattices : sequence, optional
        Conventional cells to put the prototypes on: pymatgen ``Lattice``
        objects, :class:`~diffpy.crystalnet.index.solution.IndexingSolution`
        objects (their zero shift starts the fit) or text
        (``"a=5.43"``).  Default: index the pattern
        (:func:`~diffpy.crystalnet.index.indexing.index_pattern`) and use the
        first ``lattice_solutions`` cells.
    top : int, optional
        Candidates returned (default 5).
    systems : sequence of str, optional
        Crystal systems of the prototypes to consider (default cubic,
        hexagonal, trigonal, tetragonal, orthorhombic and monoclinic: those
        whose cell follows from measured lattice parameters; a monoclinic
        prototype is put on the indexed cell with its a and c either way
        round).
    max_candidates : int, optional
        Most decorated prototypes screened (default 1000; the first ones
        in library order are kept).
    fit : bool, optional
        Fit the best screened candidates with
        :func:`~diffpy.crystalnet.refine.profile_fit.fit_candidate` and rank by
        Rwp
        (default).  False ranks by the screening R factor only.
    n_fit : int, optional
        Candidates fitted (default ``top``), best screened first.
    lattice_solutions : int, optional
        Indexing solutions tried when no lattice is given (default 3).
    screen_margin : float, optional
        Only candidates whose screening R factor ``r`` is within
        ``screen_margin * (1 - best)`` of the best one's are fitted
        (default 0.5): a candidate that explains much less of the pattern
        is not worth a fit.
    merge : bool, optional
        Also decorate prototypes with one element on several slots
        (:func:`~diffpy.crystalnet.isotypes.decorations.decoration_maps`;
        default True).
    cubic_scan : bool, optional
        Without ``lattices``: also put every cubic prototype on the cell
        that lines its strongest reflections up with the strongest
        observed peaks (default True), so that a cubic structure type is
        found when indexing fails or prefers another cell.
    axial_scan : bool, optional
        Without ``lattices``: scan the hexagonal, trigonal and tetragonal
        prototypes in the same way (default True): each keeps its own
        axial ratio, refined within
        :data:`~diffpy.crystalnet.isotypes.axial.AXIAL_TOL` by the screen,
        and is scaled isotropically onto the strongest peaks, so these
        types are found without indexing (tetragonal cells are not
        indexed).
    peaks : diffpy.crystalnet.index.peak_search.PeakList, optional
        The pattern's peaks when already found
        (:func:`~diffpy.crystalnet.index.peak_search.find_peaks` with its
        defaults); found here otherwise.
    library : list of diffpy.crystalnet.isotypes.library.Prototype, optional
        Prototypes to search (default
        :func:`~diffpy.crystalnet.isotypes.library.load_isotype_library`).
    timings : dict, optional
        Filled with the seconds spent in ``index``, ``screen`` and ``fit``
        and the number of candidates ``screened`` and ``fitted``.
    solutions : sequence of IndexingSolution, optional
        Without ``lattices``: the pattern's indexing solutions when already
        found (e.g. by ``solve``), best first; the first
        ``lattice_solutions`` of each crystal family are used instead of
        indexing again, and the scans still run.

    Returns
    -------
    list of IsotypeCandidate
        Best first; empty when no prototype has the composition's
        stoichiometry, no cell holds it, or the pattern cannot be indexed
        (logged).

    Raises
    ------
    CrystalNetInputError
        For a pattern that is not a profile with a wavelength, an invalid
        formula, lattice, system or count.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from diffpy.crystalnet import simulate_pattern
    >>> from diffpy.crystalnet.isotypes.search import search_isotypes
    >>> mgo = Structure.from_spacegroup(
    ...     "Fm-3m", Lattice.cubic(4.212), ["Mg", "O"],
    ...     [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> pattern = simulate_pattern(
    ...     mgo, "CuKa", (20, 100), profile={"w": 0.01, "kalpha2": True})
    >>> best = search_isotypes(pattern, "MgO")[0]
    >>> best.prototype, best.name  # doctest: +SKIP
    ('AB_cF8_225_a_b', 'Halite, Rock Salt')
    """
    from diffpy.crystalnet.index.peak_search import find_peaks
    from diffpy.crystalnet.refine.kernel import check_profile_pattern

    clock = {"index": 0.0, "screen": 0.0, "fit": 0.0}
    check_profile_pattern(pattern, "isotype search")
    top = _positive_int(top, "top")
    max_candidates = _positive_int(max_candidates, "max_candidates")
    n_fit = top if n_fit is None else _positive_int(n_fit, "n_fit")
    lattice_solutions = _positive_int(lattice_solutions, "lattice_solutions")
    systems = _check_systems(systems)
    comp = _as_composition(composition)
    counts = _integer_counts(comp)
    n_elements = len(comp.elements)
    if lattices is not None:
        if not isinstance(lattices, (list, tuple)):
            lattices = [lattices]
        given = [_as_lattice(v, i) for i, v in enumerate(lattices)]
    prototypes = library if library is not None else _shipped_library()
    maps = _decoration_table(
        prototypes, comp, counts, n_elements, systems, merge
    )
    matching = [p for p in prototypes if p.label in maps]
    if not matching:
        log.info("no prototype has the stoichiometry of %s", comp.formula)
        return _finish([], timings, clock, 0, 0)
    t0 = time.perf_counter()
    if peaks is None:
        peaks = find_peaks(pattern)
    if lattices is None:
        given = _indexed_lattices(
            peaks,
            matching,
            lattice_solutions,
            cubic_scan,
            axial_scan,
            solutions,
        )
        if given is None:
            return _finish([], timings, clock, 0, 0)
    clock["index"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    screen = _Screen(pattern, peaks)
    trials = _placed_trials(given, matching, maps)
    if lattices is None:
        trials += _scan_trials(
            screen,
            peaks,
            matching,
            maps,
            _scanned_families(cubic_scan, axial_scan),
        )
    if len(trials) > max_candidates:
        log.info(
            "isotype search: screening %d of %d candidates",
            max_candidates,
            len(trials),
        )
        trials = trials[:max_candidates]
    screened = _screened(screen, trials)
    _refine_best_scanned(screen, screened, screen_margin)
    unique = _unique_profiles(screened)
    clock["screen"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    chosen = _chosen(unique, fit, top, n_fit, screen_margin)
    results = _fit_chosen(chosen, screen, pattern, fit)
    if fit:
        results.sort(key=lambda c: c.rwp)
    clock["fit"] = time.perf_counter() - t0
    return _finish(results[:top], timings, clock, len(screened), len(chosen))


def _decoration_table(prototypes, comp, counts, n_elements, systems, merge):
    """Label -> decoration maps of the searched prototypes that fit."""
    wanted = None if counts is None else stoichiometry_of(counts.values())
    maps = {}
    for p in prototypes:
        if p.system not in systems or p.system not in SEARCHABLE:
            continue
        if p.stoichiometry == wanted or (merge and len(p.slots) > n_elements):
            found = decoration_maps(p, comp, merge)
            if found:
                maps[p.label] = found
    return maps


def _indexed_lattices(
    peaks, matching, lattice_solutions, cubic_scan, axial_scan, solutions
):
    """Cells from indexing the peaks, as ``(lattice, info, zero)`` tuples.

    ``solutions`` (already indexed) replace the indexing.  None when the
    matching prototypes can be put neither on an indexed cell nor on their
    own scanned cell (logged).
    """
    from diffpy.crystalnet.index.indexing import IndexingError, index_pattern

    families = {p.family for p in matching}
    index_systems = [
        s
        for s in ("cubic", "tetragonal", "orthorhombic", "monoclinic")
        if s in families
    ]
    if "hexagonal" in families:
        index_systems += ["trigonal", "hexagonal"]
    scanned = _scanned_families(cubic_scan, axial_scan)
    if not index_systems and not families & scanned:
        log.info("no indexed or scanned cell for %s", sorted(families))
        return None
    if solutions is None:
        solutions = []
        try:
            if index_systems:
                solutions = index_pattern(
                    peaks,
                    systems=tuple(index_systems),
                    max_solutions=lattice_solutions,
                )
        except IndexingError as exc:
            log.warning("isotype search: indexing failed: %s", exc)
    given, per_family = [], {}
    for rank, sol in enumerate(solutions, 1):
        lat, info, zero = _as_lattice(sol, rank - 1)
        family, _ = _lattice_family(lat)
        if family not in families:
            continue
        per_family[family] = per_family.get(family, 0) + 1
        if per_family[family] > lattice_solutions:
            continue
        info["rank"] = rank
        given.append((lat, info, zero))
    return given


def _screened(screen, trials):
    """Screen the trials, best first.

    Returns ``[r, prototype, structure, mapping, info, zero, calc, also,
    table]`` lists; a trial whose sticks cannot be computed is skipped
    (logged).
    """
    screened = []
    for p, cell, mapping, info, zero in trials:
        structure = p.structure(mapping, cell)
        try:
            table = screen.sticks(structure)
        except CrystalNetInputError as exc:
            log.info("isotype %s skipped: %s", p.label, exc)
            continue
        calc = screen.profile_of(table, zero)
        r = screen.score(calc)
        screened.append(
            [r, p, structure, mapping, info, zero, calc, [], table]
        )
    # equal profiles: the prototype with one element per slot first
    screened.sort(
        key=lambda item: (round(item[0], 9), _merged(item[1], item[3]))
    )
    return screened


def _fit_chosen(chosen, screen, pattern, fit):
    """Fit the chosen candidates (with ``fit``); IsotypeCandidate list."""
    results = []
    for r, p, structure, mapping, info, zero, _, also, table in chosen:
        lattice_info = dict(
            info,
            parameters=[
                round(float(v), 5) for v in structure.lattice.parameters
            ],
        )
        result = None
        strain = 0.0
        if fit and info.get("origin") == "given":
            # a given cell may be a little off: start the fit from the
            # isotropic strain that screens best
            strain, r = screen.best_strain(table, zero)
            strain = float(np.clip(strain, -0.02, 0.02))
        if fit:
            from diffpy.crystalnet.refine.profile_fit import (
                DEFAULT_REFINE,
                fit_candidate,
            )

            try:
                result = fit_candidate(
                    structure,
                    pattern,
                    refine=tuple(DEFAULT_REFINE) + ("strain",),
                    start={"zero_shift": zero, "strain": strain},
                    max_nfev=FIT_MAX_NFEV,
                )
            except CrystalNetInputError as exc:
                log.info("isotype %s: fit failed: %s", p.label, exc)
                continue
            strain = result.parameters.get("strain", 0.0)
            if strain:
                structure = structure.copy()
                structure.scale_lattice(structure.volume * (1.0 + strain) ** 3)
        merged = _merged(p, mapping)
        symbol, number = p.spacegroup_symbol, p.spacegroup_number
        if merged:
            symbol, number = _spacegroup(structure, symbol, number)
        results.append(
            IsotypeCandidate(
                structure=structure,
                prototype=p.label,
                name=p.name,
                spacegroup_symbol=symbol,
                spacegroup_number=number,
                rwp=None if result is None else float(result.rwp),
                fit=result,
                decoration=dict(mapping),
                screen=float(r),
                lattice_info=lattice_info,
                also=list(also),
                merged=merged,
            )
        )
    return results


def _finish(results, timings, clock, screened, fitted):
    if timings is not None:
        timings.update(clock)
        timings["screened"] = screened
        timings["fitted"] = fitted if clock["fit"] else 0
    return results


# End of file
