"""Random symmetric crystals for training data, generated with pyxtal.

:func:`random_records` yields crystals in chosen space groups (by default
all cubic, 195-230, and trigonal, 143-167, groups) with at most
``max_atoms`` atoms in the primitive cell.  Compositions are drawn to be
chemically plausible:

``"ionic"``
    one or two cations and one anion (O, S, Se, Te, N, F, Cl, Br, I), each in
    one of its common oxidation states (pymatgen's
    ``Element.common_oxidation_states``), with the smallest integer amounts
    that balance the charge;
``"intermetallic"``
    two or three metals with amounts of 1 to 4;
``"mixed"`` (default)
    either, with equal probability.

pyxtal places atoms on Wyckoff positions of the space group with its own
distance checks (``pyxtal.from_random``), told to keep atoms at least the
filter's ``min_distance_factor`` times the sum of covalent radii apart
(pyxtal's own default is half that sum).  pyxtal's cell volume is a loose
guess (CaF2 in Fm-3m came out with a = 6.5 A, real 5.46 A), and the
bond-length predictor used for decorations (``DLSVolumePredictor``) gave
random arrangements 40-55 A^3 per atom for intermetallics and pushed many
atoms too close together.  By default (``volume="contact"``) the cell is
therefore scaled so that the shortest contact is :data:`CONTACT_RATIO`
(0.9) times the sum of covalent radii, the median of that ratio in real
MP-20 crystals; the minimum-distance filter of the decorations
(:func:`diffpy.crystalnet.datasets.decorate.passes_filters`) is then applied.

Each crystal is drawn from its own seed ``SeedSequence([seed, index])``,
stored in the record, so any crystal of a stream can be rebuilt alone with
:func:`random_crystal`.
"""

import functools
import logging
import signal
import threading
import time
import warnings
from contextlib import contextmanager

import numpy as np

from diffpy.crystalnet.datasets.records import SourceStats, StructureRecord
from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "DEFAULT_SPACE_GROUPS",
    "random_composition",
    "random_crystal",
    "random_records",
]

log = logging.getLogger(__name__)

#: trigonal (143-167) and cubic (195-230) space-group numbers
DEFAULT_SPACE_GROUPS = tuple(range(143, 168)) + tuple(range(195, 231))

#: anions for ionic compositions
ANIONS = ("O", "S", "Se", "Te", "N", "F", "Cl", "Br", "I")

#: cations for ionic compositions
CATIONS = tuple(
    (
        "Li Na K Rb Cs Be Mg Ca Sr Ba Sc Y Ti Zr Hf V Nb Ta Cr Mo W Mn Re "
        "Fe Ru Os Co Rh Ir Ni Pd Pt Cu Ag Au Zn Cd Hg Al Ga In Tl Ge Sn Pb "
        "Sb Bi La Ce Pr Nd Sm Eu Gd Tb Dy Ho Er Tm Yb Lu"
    ).split()
)

#: metals for intermetallic compositions
METALS = tuple(
    (
        "Li Na K Mg Ca Sr Ba Sc Y Ti Zr Hf V Nb Ta Cr Mo W Mn Re Fe Ru Os "
        "Co Rh Ir Ni Pd Pt Cu Ag Au Zn Cd Al Ga In Sn Pb Sb Bi La Ce Nd Sm "
        "Gd Tb Dy Er Yb Lu Si Ge"
    ).split()
)

KINDS = ("ionic", "intermetallic", "mixed")

#: trial Wyckoff placements (calls of pyxtal's ``Wyckoff_position.merge``)
#: after which an attempt is abandoned.  Measured here at 250-400 per CPU
#: second on the slow attempts, so about the 5 CPU seconds of the former
#: time limit; a count, unlike a time, gives the same outcome on any
#: machine, loaded or not, so a build resumed after a kill is exact.
MAX_PLACEMENTS = 1500

#: shortest contact / sum of covalent radii after "contact" volume scaling
#: (the median of that ratio over real MP-20 structures is 0.91)
CONTACT_RATIO = 0.9

# conventional / primitive cell size by lattice centring letter
_CENTRING = {"P": 1, "A": 2, "B": 2, "C": 2, "I": 2, "F": 4, "R": 3}


def _oxidation_states(symbol, sign):
    from pymatgen.core import Element

    states = [
        s
        for s in Element(symbol).common_oxidation_states
        if np.sign(s) == sign
    ]
    return states


def random_composition(rng, kind="mixed"):
    """Draw a plausible composition.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    kind : {"ionic", "intermetallic", "mixed"}
        Kind of composition.

    Returns
    -------
    tuple
        ``(symbols, amounts)``: element symbols and the smallest integer
        amounts of the formula unit.
    """
    from math import gcd

    if kind not in KINDS:
        raise CrystalNetInputError(
            f"unknown composition kind {kind!r}; use {KINDS}", "kind"
        )
    if kind == "mixed":
        kind = KINDS[int(rng.integers(2))]
    if kind == "intermetallic":
        n = int(rng.integers(2, 4))
        symbols = [str(s) for s in rng.choice(METALS, n, replace=False)]
        amounts = [int(a) for a in rng.integers(1, 5, n)]
    else:
        anion = str(rng.choice(ANIONS))
        a_charge = -_oxidation_states(anion, -1)[0]
        while True:
            n = int(rng.integers(1, 3))
            cations = [str(s) for s in rng.choice(CATIONS, n, replace=False)]
            charges = []
            for c in cations:
                states = _oxidation_states(c, 1)
                charges.append(int(states[int(rng.integers(len(states)))]))
            counts = [int(x) for x in rng.integers(1, 4, n)]
            if n == 1:
                counts = [1]
            positive = sum(q * k for q, k in zip(charges, counts))
            lcm = positive * a_charge // gcd(positive, a_charge)
            scale = lcm // positive
            symbols = cations + [anion]
            amounts = [k * scale for k in counts] + [lcm // a_charge]
            break
    g = 0
    for a in amounts:
        g = gcd(g, a)
    return symbols, [a // g for a in amounts]


class _Timeout(Exception):
    pass


class _OverBudget(Exception):
    pass


@contextmanager
def _placement_limit(limit):
    """Raise _OverBudget at pyxtal's ``limit + 1``-th Wyckoff placement.

    pyxtal's search is bounded by counts of tries, but can take a minute;
    each try places atoms with ``Wyckoff_position.merge``, the bulk of its
    work.  Counting those calls bounds the work deterministically.  The
    method is wrapped for the duration of the block (not thread-safe: one
    attempt at a time per process, as in the dataset builder).  None or 0:
    no limit.
    """
    if not limit:
        yield
        return
    from pyxtal.symmetry import Wyckoff_position

    original = Wyckoff_position.merge
    calls = [0]

    def merge(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] > limit:
            raise _OverBudget()
        return original(self, *args, **kwargs)

    Wyckoff_position.merge = merge
    try:
        yield
    finally:
        Wyckoff_position.merge = original


@functools.lru_cache(maxsize=1)
def _atomic_tolerances():
    """pyxtal's default atomic ``Tol_matrix``, built once per process."""
    from pyxtal.tolerance import Tol_matrix

    return Tol_matrix(prototype="atomic")


@contextmanager
def _lighter_placements():
    """Two shortcuts in pyxtal's Wyckoff placement that keep its crystals.

    ``Wyckoff_position.merge``, the bulk of pyxtal's random-crystal work,
    (1) calls ``check_images`` without a tolerance matrix, which then builds
    the default atomic ``Tol_matrix`` each time (3 ms; more than half of
    the build), and (2) deep-copies the Wyckoff position it starts from
    (30 % of the rest) although it only reads the copy and returns it.
    Here ``check_images`` gets one shared default matrix (the same values)
    and the copy is shallow (pyxtal only sets attributes on the position it
    returns, never mutates what it shares with the group's own).  The
    shards built with and without them are byte-identical
    (``benchmarks/bench_build.py`` measures the speed).  Patched for the
    duration of the block, like :func:`_placement_limit`.
    """
    import copy

    import pyxtal.symmetry as symmetry

    original_check = symmetry.check_images
    original_copy = symmetry.Wyckoff_position.copy

    def check_images(*args, tm=None, **kwargs):
        if tm is None:
            tm = _atomic_tolerances()
        return original_check(*args, tm=tm, **kwargs)

    symmetry.check_images = check_images
    symmetry.Wyckoff_position.copy = copy.copy
    try:
        yield
    finally:
        symmetry.check_images = original_check
        symmetry.Wyckoff_position.copy = original_copy


@contextmanager
def _time_limit(seconds):
    """Raise _Timeout after ``seconds`` of CPU time of this process.

    CPU time (``ITIMER_PROF``), not wall time, so that a loaded machine does
    not skip more structures.  Unix main thread only, else no limit.
    """
    usable = (
        seconds
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def handler(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _centring(group):
    return _CENTRING.get(group.symbol[0], 1)


def random_crystal(
    space_group,
    symbols,
    amounts,
    rng,
    max_atoms=20,
    volume="contact",
    min_distance_factor=None,
    max_count=5,
    timeout=None,
    t_factor=None,
    max_placements=MAX_PLACEMENTS,
):
    """Generate one random crystal with pyxtal.

    Parameters
    ----------
    space_group : int
        International space-group number.
    symbols : sequence of str
        Element symbols.
    amounts : sequence of int
        Formula-unit amounts of the elements.
    rng : numpy.random.Generator
        Random generator (the number of formula units and pyxtal's random
        state are drawn from it).
    max_atoms : int, optional
        Largest number of atoms in the primitive cell.
    volume : {"contact", "dls", "pyxtal"}, optional
        ``"contact"`` (default): scale the cell so that the shortest
        contact is :data:`CONTACT_RATIO` times the sum of covalent radii;
        ``"dls"``: pymatgen's DLSVolumePredictor volume; ``"pyxtal"``:
        keep pyxtal's guess.
    min_distance_factor : float, optional
        Minimum distance filter (see
        :func:`diffpy.crystalnet.datasets.decorate.passes_filters`); default
        that module's ``MIN_DISTANCE_FACTOR``.
    max_count : int, optional
        pyxtal's number of attempts.
    t_factor : float, optional
        pyxtal's distance-tolerance factor; default such that pyxtal keeps
        atoms ``min_distance_factor`` covalent-radius sums apart (1.0 is
        pyxtal's default, half a sum: faster, but most results then fail
        the distance filter).
    timeout : float, optional
        Also give up after this many CPU seconds.  Default None: no time
        limit, as whether a slow attempt succeeds then depends on the
        machine's speed and load (a 5 s limit made a dataset build resumed
        after a kill differ from a clean build by a structure).  Works in
        the main thread of a process on Unix (also in worker processes);
        elsewhere there is no limit.
    max_placements : int, optional
        Give up after this many trial Wyckoff placements by pyxtal
        (:data:`MAX_PLACEMENTS`, about 5 CPU seconds here: pyxtal can
        search for a minute on crowded Wyckoff combinations).  A count, so
        the outcome is the same on every machine.  None or 0: no limit.

    Returns
    -------
    pymatgen.core.Structure or str
        The crystal (conventional cell), or a string saying why none was
        made (no Wyckoff combination fits, pyxtal failed, filter failed).
    """
    from pyxtal import pyxtal
    from pyxtal.symmetry import Group

    from diffpy.crystalnet.datasets.decorate import (
        MIN_DISTANCE_FACTOR,
        min_distance_ratio,
        passes_filters,
        predict_volume,
    )

    if min_distance_factor is None:
        min_distance_factor = MIN_DISTANCE_FACTOR
    if t_factor is None:  # pyxtal's atomic tolerance is 0.5 * (r_i + r_j)
        t_factor = min_distance_factor / 0.5 * 1.02
    group = Group(int(space_group))
    centring = _centring(group)
    per_unit = sum(amounts)
    units = [z for z in range(1, max_atoms // per_unit + 1)]
    if not units:
        return "formula unit larger than max_atoms"
    order = rng.permutation(len(units))
    numions = None
    for i in order:
        candidate = [a * units[i] * centring for a in amounts]
        if group.check_compatible(candidate)[0]:
            numions = candidate
            break
    if numions is None:
        return "no Wyckoff combination"
    crystal = pyxtal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with (
                _time_limit(timeout),
                _placement_limit(max_placements),
                _lighter_placements(),
            ):
                crystal.from_random(
                    3,
                    int(space_group),
                    list(symbols),
                    numions,
                    max_count=max_count,
                    t_factor=t_factor,
                    random_state=int(rng.integers(2**31)),
                )
        except _Timeout:
            return "pyxtal timed out"
        except _OverBudget:
            return "pyxtal gave up (Wyckoff placement budget spent)"
        except Exception as exc:
            return f"pyxtal failed: {type(exc).__name__}"
        if not getattr(crystal, "valid", True):
            return "pyxtal failed: invalid"
        structure = crystal.to_pymatgen()
        if volume == "contact":
            ratio = min_distance_ratio(structure)
            if np.isfinite(ratio) and ratio > CONTACT_RATIO:
                structure.scale_lattice(
                    structure.volume * (CONTACT_RATIO / ratio) ** 3
                )
        elif volume == "dls":
            try:
                structure.scale_lattice(
                    predict_volume(structure, structure, "dls")
                )
            except Exception as exc:
                return f"volume failed: {exc}"
    reason = passes_filters(structure, min_distance_factor)
    if reason is not None:
        return reason
    return structure


def random_records(
    n,
    seed=0,
    space_groups=DEFAULT_SPACE_GROUPS,
    kind="mixed",
    max_atoms=20,
    stats=None,
    timings=None,
    **options,
):
    """Yield random crystals as records.

    Parameters
    ----------
    n : int
        Number of attempts (failed attempts are skipped and counted, so
        fewer records may come out).
    seed : int, optional
        Master seed; attempt ``i`` uses ``SeedSequence([seed, i])``.
    space_groups : sequence of int, optional
        Space groups drawn uniformly.  Default trigonal and cubic.
    kind : {"mixed", "ionic", "intermetallic"}, optional
        Composition kind (see :func:`random_composition`).
    max_atoms : int, optional
        Largest number of atoms in the primitive cell.
    stats : SourceStats, optional
        Counts yielded and skipped attempts.
    timings : list, optional
        When given, the seconds of every attempt are appended.
    **options
        Passed to :func:`random_crystal` (``volume``,
        ``min_distance_factor``, ``max_count``).

    Yields
    ------
    StructureRecord
        ``source`` ``"pyxtal"``, ``id`` ``"<seed>-<i>"``, ``seed`` the
        attempt's seed: ``random_crystal(sg, symbols, amounts, rng)`` with
        ``rng = default_rng(record.seed)`` after drawing ``sg`` and the
        composition from the same ``rng`` (see :func:`draw_one`).
    """
    stats = SourceStats() if stats is None else stats
    groups = [int(g) for g in space_groups]
    bad = [g for g in groups if not 1 <= g <= 230]
    if bad or not groups:
        raise CrystalNetInputError(
            f"space groups must be 1-230, got {bad or 'none'}", "space_groups"
        )
    for i in range(int(n)):
        child_seed = int(
            np.random.SeedSequence([seed, i]).generate_state(1)[0]
        )
        t0 = time.perf_counter()
        result = draw_one(child_seed, groups, kind, max_atoms, **options)
        if timings is not None:
            timings.append(time.perf_counter() - t0)
        if isinstance(result, str):
            stats.skipped[result.split(" (")[0]] += 1
            log.debug("pyxtal attempt %d skipped: %s", i, result)
            continue
        stats.yielded += 1
        yield StructureRecord(result, "pyxtal", f"{seed}-{i}", seed=child_seed)


def draw_one(child_seed, space_groups, kind="mixed", max_atoms=20, **options):
    """Rebuild the crystal of one attempt from its seed.

    Parameters
    ----------
    child_seed : int
        The record's ``seed``.
    space_groups : sequence of int
        The space groups the stream drew from.
    kind : str, optional
        The stream's composition kind.
    max_atoms : int, optional
        The stream's size limit.
    **options
        As for :func:`random_crystal`.

    Returns
    -------
    pymatgen.core.Structure or str
        The crystal or the reason the attempt failed.
    """
    rng = np.random.default_rng(child_seed)
    space_group = int(space_groups[int(rng.integers(len(space_groups)))])
    symbols, amounts = random_composition(rng, kind)
    if sum(amounts) > max_atoms:
        return "formula unit larger than max_atoms"
    return random_crystal(
        space_group, symbols, amounts, rng, max_atoms=max_atoms, **options
    )
