"""Powder indexing of cubic, trigonal and hexagonal patterns.

:func:`index_pattern` finds the lattice (and centring) of a powder pattern
from its peak positions, for the crystal systems CrystalNet handles.

Method
------
Everything is done in ``s = 1/d^2 = (Q / 2 pi)^2``:

* cubic: ``s = N / a^2`` with ``N = h^2 + k^2 + l^2``; P allows every N that
  is a sum of three squares, I the even ones, F those with h, k, l all odd
  or all even.
* hexagonal setting: ``s = 4 H / (3 a^2) + l^2 / c^2`` with
  ``H = h^2 + hk + k^2``; P allows all (H, l), R (rhombohedral lattice in
  the obverse hexagonal setting) only reflections with ``-h + k + l = 3n``.

Trial cells come from assigning low indices to the first lines: for cubic,
each of the first four lines taken as every N up to 60; for hexagonal and
trigonal, every pair among the first six lines taken as every pair of
(H, l) with H in {0, 1, 3, 4, 7} and l up to 12, which fixes a and c (the
approach of the classic exhaustive indexing programs, restricted to two
parameters).  Every trial is scored by the number of lines it indexes
within a tolerance that grows with angle (the zero shift is not known yet);
the best are refined by least squares (``scipy.optimize.least_squares``)
with a zero shift (2-theta data with a wavelength), re-indexed with the
final tolerance and refined again.

Figures of merit
----------------
* de Wolff's ``M20 = s_20 / (2 <|delta s|> N_20)`` (J. Appl. Cryst. 1, 108,
  1968) over the first 20 indexed lines (fewer when there are fewer): s_20
  of the 20th line, ``<|delta s|>`` the mean discrepancy, N_20 the number of
  distinct calculated lines up to s_20.  The mean discrepancy is floored at
  the equivalent of 0.0005 degrees so that exact (simulated) positions give
  large but finite values.
* Smith and Snyder's ``F_N = N / (<|delta 2theta|> N_poss)`` (J. Appl.
  Cryst. 12, 60, 1979), reported with wavelength only.

Ranking and refusal
-------------------
Solutions are ranked by ``M20 * 0.7^unindexed``.  Among solutions within 2 %
of the best (for instance a cubic cell and the same lattice in its
rhombohedral description, or a body-centred cell and the primitive cell of
side a / sqrt(2) when no line tells them apart), the higher symmetry wins,
then the centred lattice, then the smaller cell; a cubic solution is also
preferred to a non-cubic one that indexes no more lines when its figure is
at least 70 % of it and its primitive cell is not larger.  When no trial
reaches ``min_m20`` (as ``M20 * 0.7^unindexed``) with at most
``max_unindexed`` lines left over,
:class:`IndexingError` says what was tried; give the cell instead
(``--lattice a=5.43`` on the command line).

Modules
-------
The driver and the ranking are here; the parts live in
:mod:`~diffpy.crystalnet.index.search` (lattice types and trial cells per
crystal system, screening), :mod:`~diffpy.crystalnet.index.refinement`
(least-squares refinement of the candidates),
:mod:`~diffpy.crystalnet.index.solution` (the indexed cell and its
figures of merit), :mod:`~diffpy.crystalnet.index.reflections`
(reflection tables and metric of each lattice type) and
:mod:`~diffpy.crystalnet.index.observations` (the observed lines).  Cells
given as text are read by
:func:`~diffpy.crystalnet.index.lattice_text.parse_lattice`.
"""

import math
import time

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.index.observations import _Obs, _observations
from diffpy.crystalnet.index.refinement import _refine_candidates
from diffpy.crystalnet.index.reflections import _Model
from diffpy.crystalnet.index.search import (
    _candidates,
    _cell_limits,
    _lattice_types,
    _trial_cells,
)
from diffpy.crystalnet.physics.lattice import CENTRING_POINTS
from diffpy.crystalnet.physics.wavelengths import WAVELENGTHS

__all__ = ["IndexingError", "index_pattern"]

SYSTEMS = (
    "cubic",
    "trigonal",
    "hexagonal",
    "tetragonal",
    "orthorhombic",
    "monoclinic",
    "triclinic",
)
#: systems indexed by the general metric search (index.general)
GENERAL_SYSTEMS = ("tetragonal", "orthorhombic", "monoclinic", "triclinic")
#: triclinic solutions need twice ``min_m20``: with six free parameters
#: and many trial cells, random lines reach M18 = 15
M20_FACTOR = {"triclinic": 2.0}
_CENTRING_RANK = {"F": 0, "I": 0, "R": 0, "C": 0, "A": 0, "B": 0, "P": 1}
#: crystal systems, most symmetric first (ranking of near-equal solutions)
_SYMMETRY_RANK = {
    "cubic": 0,
    "hexagonal": 1,
    "trigonal": 1,
    "tetragonal": 2,
    "orthorhombic": 3,
    "monoclinic": 4,
    "triclinic": 5,
}


class IndexingError(CrystalNetInputError):
    """No cell indexes the pattern well enough."""


# --------------------------------------------------------------------------
# the driver


def _check_systems(systems):
    if isinstance(systems, str):
        systems = (systems,)
    out = []
    for name in systems:
        key = str(name).strip().lower()
        if key not in SYSTEMS:
            raise CrystalNetInputError(
                f"cannot index crystal system {name!r}: supported are "
                f"{', '.join(SYSTEMS)}",
                "systems",
            )
        if key not in out:
            out.append(key)
    if not out:
        raise CrystalNetInputError("no crystal system given", "systems")
    return tuple(out)


# long: most of it is the numpydoc docstring (the body is 75 lines)
def index_pattern(
    pattern_or_peaks,
    systems=("cubic", "trigonal"),
    max_peaks=20,
    tolerance=None,
    max_zero_shift=0.2,
    min_m20=10.0,
    max_unindexed=3,
    min_indexed=3,
    max_volume=5000.0,
    max_solutions=10,
    peak_options=None,
    exhaustive=False,
):
    """Index a powder pattern: find its cubic, trigonal or hexagonal cell.

    Parameters
    ----------
    pattern_or_peaks : Pattern or PeakList
        A pattern (peaks are found with
        :func:`~diffpy.crystalnet.index.peak_search.find_peaks` and
        ``peak_options``) or the peaks.  Needs a wavelength (or Q).
    systems : sequence of str, optional
        Crystal systems to try: ``"cubic"`` (P, I, F), ``"trigonal"`` (R in
        the hexagonal setting and P), ``"hexagonal"`` (P).
    max_peaks : int, optional
        Use the first (lowest-angle) this many peaks.
    tolerance : float, optional
        Largest 2-theta difference in degrees (after refinement) for a line
        to count as indexed; for patterns in Q without wavelength the same
        tolerance is taken at Cu K-alpha1.  By default 0.04 degrees, or
        0.15 times the median FWHM of the peaks when that is larger (broad
        peaks have less precise positions).
    max_zero_shift : float, optional
        Bound of the refined zero shift in degrees.
    min_m20 : float, optional
        Refuse solutions whose ``M20 * 0.7^unindexed`` is lower (default
        10; twice that for triclinic cells).
    max_unindexed : int, optional
        Refuse solutions that leave more lines unindexed (default 3: up
        to three impurity lines among the first twenty; with 2, 10 more
        of 120 simulated lab patterns with 0-3 impurity lines were
        missed).
    min_indexed : int, optional
        Refuse solutions that index fewer lines.
    max_volume : float, optional
        Largest conventional cell volume tried, angstrom^3.
    max_solutions : int, optional
        Return at most this many solutions.
    peak_options : dict, optional
        Keyword arguments of ``find_peaks`` when a pattern is given.
    exhaustive : bool, optional
        Also search hexagonal axes when a cubic cell already indexes every
        line with M20 >= max(20, min_m20) and at most two calculated lines
        per observed line (by default that search is then skipped: a
        hexagonal cell can hardly index the lines with fewer calculated
        lines than such a cubic one).

    Returns
    -------
    list of IndexingSolution
        Best first (see the module documentation for the ranking).

    Raises
    ------
    IndexingError
        When no cell passes ``min_m20``, ``max_unindexed`` and
        ``min_indexed``.
    CrystalNetInputError
        For invalid arguments or a pattern without wavelength.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from diffpy.crystalnet import simulate_pattern
    >>> nacl = Structure.from_spacegroup(
    ...     "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
    ...     [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> sticks = simulate_pattern(nacl, "CuKa1", (10, 90)).to_pattern()
    >>> best = index_pattern(sticks)[0]
    >>> best.system, best.centring, round(best.a, 4)
    ('cubic', 'F', 5.64)
    """
    started = time.perf_counter()
    systems = _check_systems(systems)
    obs, where, tolerance, n_found = _prepared(
        pattern_or_peaks, peak_options, tolerance, max_peaks, min_indexed
    )
    tried_tolerance = tolerance
    tol_final, tol_trial, tol_first = _s_tolerances(
        obs, tolerance, max_zero_shift
    )
    n = obs.q.size
    need = max(int(min_indexed), n - int(max_unindexed))
    lattices, hex_label = _lattice_types(systems)
    cell_limits = _cell_limits(max_volume)
    trial_sets = _trial_cells(systems, hex_label, obs, max_volume)
    solutions = []
    tried = {}
    for system, centring in lattices:
        if (
            system != "cubic"
            and not exhaustive
            and _cubic_done(solutions, n, min_m20)
        ):
            tried[(system, centring)] = "skipped: a cubic cell indexes all"
            continue
        model = _Model(system, centring)
        trials = trial_sets.get(system)
        if trials is None or len(trials) == 0:
            tried[(system, centring)] = 0
            continue
        tried[(system, centring)] = len(trials)
        cand, zc = _candidates(
            model,
            trials,
            obs,
            (tol_first, tol_trial),
            (
                int(max_unindexed),
                obs.wavelength is not None,
                max_zero_shift,
                cell_limits[model.hexagonal],
            ),
            max(need - 1, int(min_indexed), 2),
        )
        solutions += _refine_candidates(
            model, cand, zc, obs, (tol_trial, tol_final), max_zero_shift
        )
    solutions += _general_solutions(
        systems,
        obs,
        (tol_final, tol_trial, tol_first),
        (max_zero_shift, max_volume, max(need - 1, int(min_indexed), 2)),
        (solutions, n, min_m20, exhaustive),
        tried,
    )
    solutions = _dedupe(solutions)
    passing = [
        s
        for s in solutions
        if s.quality >= min_m20 * M20_FACTOR.get(s.system, 1.0)
        and s.unindexed <= max_unindexed
        and len(s.indexed) >= min_indexed
        and s.lattice.volume <= max_volume
    ]
    if not passing:
        raise IndexingError(
            _refusal(
                solutions,
                tried,
                n,
                n_found,
                min_m20,
                max_unindexed,
                tried_tolerance,
            ),
            where,
        )
    ranked = _rank(passing)
    elapsed = time.perf_counter() - started
    for s in ranked[: int(max_solutions)]:
        s.details["doubled_axes"] = s.doubled_axes()
    for s in ranked:
        s.details["seconds"] = elapsed
        s.details["peaks_found"] = n_found
        s.details["tolerance"] = tolerance
    return ranked[: int(max_solutions)]


def _general_solutions(systems, obs, tols, limits, done, tried):
    """Solutions of the tetragonal, orthorhombic and monoclinic searches."""
    from diffpy.crystalnet.index.general import MIN_LINES, index_system

    max_zero_shift, max_volume, need = limits
    found, n, min_m20, exhaustive = done
    out = []
    for system in GENERAL_SYSTEMS:
        if system not in systems:
            continue
        if not exhaustive and _cubic_done(found + out, n, min_m20):
            tried[(system, "P")] = "skipped: a cubic cell indexes all"
            continue
        if obs.q.size < MIN_LINES[system]:
            tried[(system, "P")] = (
                f"skipped: fewer than {MIN_LINES[system]} lines"
            )
            continue
        sols = index_system(
            system, obs, tols, max_zero_shift, max_volume, need
        )
        tried[(system, "P")] = len(sols)
        out += sols
    return out


def _prepared(
    pattern_or_peaks, peak_options, tolerance, max_peaks, min_indexed
):
    """The lines to index and the settings that depend on the peaks.

    Returns the observations of the first ``max_peaks`` lines, where they
    come from, the 2-theta tolerance in degrees and the number of peaks
    found.
    """
    obs, where = _observations(pattern_or_peaks, peak_options)
    tolerance = _checked_tolerance(obs, tolerance)
    if int(max_peaks) < 3:
        raise CrystalNetInputError("max_peaks must be at least 3", "max_peaks")
    n_found = obs.q.size
    obs = _Obs(
        obs.q[: int(max_peaks)],
        None if obs.tth is None else obs.tth[: int(max_peaks)],
        obs.wavelength,
    )
    if obs.q.size < max(3, int(min_indexed)):
        raise IndexingError(
            f"only {obs.q.size} peak(s) found; indexing needs at least "
            f"{max(3, int(min_indexed))}. Give the cell instead "
            "(--lattice a=... or a=...,c=...)",
            where,
        )
    return obs, where, tolerance, n_found


def _checked_tolerance(obs, tolerance):
    """The 2-theta tolerance in degrees: given, or from the peak widths."""
    if tolerance is None:
        tolerance = 0.04
        if obs.fwhm is not None and obs.fwhm.size:
            tolerance = max(tolerance, 0.15 * float(np.median(obs.fwhm)))
    tolerance = float(tolerance)
    if not 0 < tolerance < 1:
        raise CrystalNetInputError(
            f"tolerance {tolerance!r} must be in (0, 1) degrees", "tolerance"
        )
    return tolerance


def _s_tolerances(obs, tolerance, max_zero_shift):
    """Tolerances in s of every line: final, trial and first pass.

    Without wavelength the 2-theta tolerance is taken at Cu K-alpha1.
    """
    tol_q = (
        (4 * math.pi / WAVELENGTHS["CuKa1"]) * math.radians(tolerance) / 2.0
    )
    tol_final = obs.s_tolerance(tolerance, tol_q)
    # trial scoring: the zero shift is unknown, and a cell from low-angle
    # lines carries a relative error of about cot(theta_1) * zero / 2
    if obs.wavelength is not None:
        theta1 = math.radians(obs.tth[0]) / 2.0
        rel = math.radians(max_zero_shift) / 2.0 / math.tan(theta1)
    else:
        rel = 1e-3
    tol_trial = obs.s_tolerance(2 * tolerance, 2 * tol_q)
    tol_first = obs.s_tolerance(
        2 * tolerance + max_zero_shift, 2 * tol_q, rel=min(rel, 0.01)
    )
    return tol_final, tol_trial, tol_first


# --------------------------------------------------------------------------
# the ranked result


def _cubic_done(solutions, n, min_m20):
    return any(
        s.system == "cubic"
        and s.unindexed == 0
        and len(s.indexed) == n
        and s.m20 >= max(20.0, min_m20)
        and s.details["n_calc"] <= 2 * s.details["n"]
        for s in solutions
    )


def _dedupe(solutions):
    out = []
    for s in sorted(solutions, key=lambda s: -s.quality):
        same = False
        for t in out:
            rtol = 1e-3 if s.system in GENERAL_SYSTEMS else 1e-4
            if (
                t.system == s.system
                and t.centring == s.centring
                and np.allclose(t.lattice.abc, s.lattice.abc, rtol=rtol)
                and np.allclose(t.lattice.angles, s.lattice.angles, atol=0.05)
            ):
                same = True
                break
        if not same:
            out.append(s)
    return out


def _prefer(s):
    """Sort key among near-equal solutions: symmetry, centring, volume."""
    primitive = s.lattice.volume / len(CENTRING_POINTS[s.centring])
    return (
        _SYMMETRY_RANK.get(s.system, 5),
        _CENTRING_RANK[s.centring],
        primitive,
    )


def _rank(solutions):
    by_quality = sorted(solutions, key=lambda s: -s.quality)
    best = by_quality[0]
    near = [s for s in by_quality if s.quality >= 0.98 * best.quality]
    top = min(near, key=_prefer)
    if top.system != "cubic":
        cubic = [
            s
            for s in by_quality
            if s.system == "cubic"
            and s.unindexed <= top.unindexed
            and s.quality >= 0.7 * top.quality
            and _prefer(s)[2] <= _prefer(top)[2] * 1.01
        ]
        if cubic:
            top = min(cubic, key=lambda s: (-s.quality, _prefer(s)))
    if top.system in GENERAL_SYSTEMS:
        top = _more_symmetric(top, by_quality)
    return [top] + [s for s in by_quality if s is not top]


def _more_symmetric(top, solutions):
    """A more symmetric solution that indexes as many lines, if any.

    Space-group absences let a smaller, lower-symmetry cell index every
    line with fewer calculated lines, hence a higher M20 (anatase, I4_1/amd,
    is indexed by a C-centred orthorhombic cell of half its volume).  As
    the classic programs do, the more symmetric lattice wins when it
    indexes as many lines with M20 >= 20 and at least 30 % of the best
    figure, and its primitive cell is at most twice as large (a larger
    one indexes impurity lines by chance).
    """
    rank = _SYMMETRY_RANK.get(top.system, 5)
    better = [
        s
        for s in solutions
        if _SYMMETRY_RANK.get(s.system, 5) < rank
        and s.unindexed <= top.unindexed
        and s.m20 >= 20.0
        and s.quality >= 0.3 * top.quality
        and _prefer(s)[2] <= 2.01 * _prefer(top)[2]
    ]
    if not better:
        return top
    return min(better, key=lambda s: (_prefer(s)[0], -s.quality))


def _refusal(solutions, tried, n, n_found, min_m20, max_unindexed, tolerance):
    what = ", ".join(
        f"{system} {centring} ({count} trial cells)"
        for (system, centring), count in tried.items()
        if not isinstance(count, str)
    )
    msg = (
        f"no cell indexes the first {n} of {n_found} peaks with M20 >= "
        f"{min_m20:g} and at most {max_unindexed} unindexed lines within "
        f"{tolerance:.3g} deg (tried {what})"
    )
    if solutions:
        best = max(solutions, key=lambda s: s.quality)
        msg += f"; best attempt: {best.describe()}"
    msg += (
        ". The pattern may belong to another crystal system, contain "
        "impurity peaks, or have too few peaks. Give the cell instead "
        "(--lattice a=5.43 for cubic, --lattice a=4.14,c=28.6 for "
        "hexagonal axes, or --cell a,b,c,alpha,beta,gamma)"
    )
    return msg


# End of file
