"""Direct-space global optimisation on Pawley-extracted intensities.

:func:`solve_direct_space` places a composition on the Wyckoff positions
of a given space group and searches the free coordinates for the
arrangement whose structure factors fit the extracted intensities, with an
anti-bump penalty (:mod:`~diffpy.crystalnet.abinitio.trial`).  The search:

1. **Formula units** ``Z`` from the cell volume (the four most plausible,
   :func:`~diffpy.crystalnet.abinitio.wyckoff.formula_units`) and, for
   each, the **Wyckoff configurations** of the composition, simplest first;
   the lists are interleaved, the likeliest ``Z`` most often.
2. **Successive halving** over configurations: a cycle starts up to
   ``max_configs`` configurations, each as a short parallel-tempering
   ladder (:mod:`~diffpy.crystalnet.abinitio.tempering`) from random or
   seeded generators, all in one vectorised batch; after each round the
   worse half is dropped and the survivors run twice as long.  Cycles
   repeat with fresh starts (and the next configurations) until the time
   budget is spent.
3. The best arrangement of every configuration met is kept; the best are
   returned as pymatgen structures for profile fitting and Rietveld
   refinement.

Seeds (e.g. atoms decoded from network densities) start a share of the
replicas: each site's generator is a seed atom of the same element.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.abinitio.target import intensity_target
from diffpy.crystalnet.abinitio.tempering import TEMPERATURES, Ladder
from diffpy.crystalnet.abinitio.trial import TrialBatch
from diffpy.crystalnet.abinitio.wyckoff import (
    _check_number,
    configurations,
    formula_units,
    general_operations,
    wyckoff_sites,
)
from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["DirectSpaceResult", "DirectSpaceSolution", "solve_direct_space"]

#: anti-bump weight relative to the intensity R
BUMP_WEIGHT = 0.5
#: formula units tried: the most plausible by volume per atom (which is
#: known only roughly: 9-38 A^3 among inorganic solids)
MAX_Z = 4


@dataclass
class DirectSpaceSolution:
    """One arrangement found by :func:`solve_direct_space`.

    Attributes
    ----------
    structure : pymatgen.core.Structure
        The conventional cell.
    cost : float
        ``r_intensity + BUMP_WEIGHT * bump``.
    r_intensity : float
        Weighted R of the group intensities (fraction).
    bump : float
        Anti-bump penalty per atom.
    space_group : int
    z : int
        Formula units in the cell.
    wyckoff : str
        The configuration, e.g. ``"Na 4a, Cl 4b"``.
    found_at : float
        Seconds from the start when this arrangement was reached.
    """

    structure: object
    cost: float
    r_intensity: float
    bump: float
    space_group: int
    z: int
    wyckoff: str
    found_at: float


@dataclass
class DirectSpaceResult:
    """The outcome of :func:`solve_direct_space`.

    Attributes
    ----------
    solutions : list of DirectSpaceSolution
        Best (lowest cost) first, one per configuration.
    history : list of tuple
        ``(seconds, cost, structure)`` each time the overall best improved
        (for time-to-solution studies).
    evaluations : int
        Trial structures evaluated.
    configurations : int
        Configurations tried.
    seconds : float
    warnings : list of str
    """

    solutions: list
    history: list
    evaluations: int
    configurations: int
    seconds: float
    warnings: list = field(default_factory=list)

    @property
    def best(self):
        return self.solutions[0] if self.solutions else None


def _amounts(composition):
    from diffpy.crystalnet.physics.composition import integer_formula

    try:
        amounts = integer_formula(composition)
    except CrystalNetInputError:
        raise
    except Exception as err:
        raise CrystalNetInputError(
            f"cannot read the composition {composition!r}: {err}",
            "composition",
        ) from None
    return {str(k): int(v) for k, v in amounts.items()}


def _form_factor_table(elements, s2):
    from pymatgen.core import Element

    from diffpy.crystalnet.physics.scattering import (
        form_factors,
        scattering_params,
    )

    params = scattering_params()
    z = np.array([Element(e).Z for e in elements], dtype=float)
    coeff = np.array([params[e] for e in elements])
    return form_factors(np.asarray(s2, float), z, coeff).T


def _label(config, number):
    sites = wyckoff_sites(number)
    return ", ".join(f"{el} {sites[i].label}" for el, i in config)


def _seeded(batch, rows, seeds, rng):
    """Generators of ``rows`` taken from seed atoms of the same element."""
    v = batch.random_generators(rng, rows)
    for k, r in enumerate(rows):
        symbols, frac = seeds[rng.integers(len(seeds))]
        symbols = np.asarray(symbols)
        for s in range(batch.site_el.shape[1]):
            e = batch.site_el[r, s]
            if e >= len(batch.elements):
                continue
            pick = np.nonzero(symbols == batch.elements[e])[0]
            if not len(pick):
                continue
            x = frac[rng.choice(pick)] + rng.normal(0, 0.01, 3)
            v[k, s] = np.where(batch.free[r, s], x % 1.0, 0.0)
    return v


class _Search:
    """Book-keeping of one run: clock, best per configuration, history."""

    def __init__(self, budget, on_best, stop_r=None):
        self.t0 = time.perf_counter()
        self.stop_r = stop_r
        self.deadline = self.t0 + float(budget)
        self.best = {}
        self.history = []
        self.evaluations = 0
        self.on_best = on_best

    def elapsed(self):
        return time.perf_counter() - self.t0

    def left(self):
        """Seconds left (0 once an arrangement fits well enough)."""
        if self.stop_r is not None and self.best:
            if min(b[1] for b in self.best.values()) <= self.stop_r:
                return 0.0
        return self.deadline - time.perf_counter()

    def record(self, ladder, configs, structure_of):
        cost, rows = ladder.config_best()
        overall = min((b[0] for b in self.best.values()), default=np.inf)
        for c, r in zip(range(len(cost)), rows):
            key = configs[c]
            if key not in self.best or cost[c] < self.best[key][0]:
                self.best[key] = (
                    float(cost[c]),
                    float(ladder.best_r[r]),
                    float(ladder.best_bump[r]),
                    ladder.best_v[r].copy(),
                    self.elapsed(),
                    key,
                )
        top = min(self.best.values(), key=lambda b: b[0])
        if top[0] < overall - 1e-6:
            structure = structure_of(top)
            self.history.append((top[4], top[0], structure))
            if self.on_best is not None:
                self.on_best(top[4], top[0], top[1], structure)


# long: successive halving over configurations, one batch per round
def _halving(search, pool, make_batch, rng, seeds, steps0, structure_of):
    k = len(TEMPERATURES)
    active = list(pool)
    v = None
    steps = steps0
    while active and search.left() > 0:
        batch = make_batch([c for c in active for _ in range(k)])
        if v is None:
            v = batch.random_generators(rng)
            if seeds:
                rows = np.arange(0, batch.n_replicas, 2)
                v[rows] = _seeded(batch, rows, seeds, rng)
        ladder = Ladder(batch, rng, v=v)
        done = 0
        while done < steps and search.left() > 0:
            chunk = min(20, steps - done)
            ladder.sweep(chunk)
            done += chunk
            search.evaluations += chunk * batch.n_replicas
            search.record(ladder, active, structure_of)
        if len(active) == 1:
            break
        cost, _ = ladder.config_best()
        keep = np.argsort(cost)[: max(1, len(active) // 2)]
        rows = (keep[:, None] * k + np.arange(k)[None, :]).ravel()
        v = ladder.v[rows]
        active = [active[i] for i in keep]
        steps *= 2


# long: checks, Z and configurations, the halving cycles, the result
def solve_direct_space(
    extracted,
    space_group,
    composition,
    budget=60.0,
    d_min=None,
    seeds=None,
    seed=None,
    max_configs=32,
    steps=40,
    top=5,
    on_best=None,
    stop_r=None,
):
    """Search the arrangement of a composition in a space group.

    Parameters
    ----------
    extracted : ExtractedIntensities
        Pawley intensities on the cell of the group's standard setting
        (:func:`~diffpy.crystalnet.refine.pawley.extract_intensities`).
    space_group : int
        International Tables number; the cell must be in the standard
        setting pyxtal uses (monoclinic unique axis b).
    composition : str or pymatgen.core.Composition
        The formula (a ratio: formula units per cell are searched).
    budget : float, optional
        Seconds of search (default 60).
    d_min : float, optional
        Resolution of the fit (default 0.9 angstrom or the data's).
    seeds : list of tuple, optional
        ``(symbols, frac_coords)`` seed structures in the same cell (e.g.
        atoms decoded from network densities); half the replicas start
        from them.
    seed : int, optional
        Random seed.
    max_configs : int, optional
        Configurations started per cycle.
    steps : int, optional
        Steps of the first halving round.
    top : int, optional
        Solutions returned.
    on_best : callable, optional
        ``on_best(seconds, cost, r_intensity, structure)`` whenever the
        overall best improves (e.g. a progress bar).
    stop_r : float, optional
        Stop early once an arrangement's intensity R is at most this
        (default: use the whole budget).

    Returns
    -------
    DirectSpaceResult

    Raises
    ------
    CrystalNetInputError
        For a bad space group or composition, a composition the cell cannot
        hold in that group, or too few observed reflections.
    """
    from diffpy.crystalnet.physics.lattice import lattice_matrix

    amounts = _amounts(composition)
    number = _check_number(space_group)
    rotations, _ = general_operations(number)
    lattice = extracted.lattice
    volume = float(lattice.volume)
    zs = formula_units(volume, amounts, number, max_z=MAX_Z)
    if not zs:
        raise CrystalNetInputError(
            f"the composition {composition} cannot fill a {volume:.1f} A^3 "
            f"cell on the Wyckoff positions of space group {number}",
            "composition",
        )
    elements = sorted(amounts)
    per_fu = np.array([amounts[e] for e in elements], float)
    target = intensity_target(extracted, rotations, d_min)
    ftable = _form_factor_table(elements, target.s2)
    matrix = lattice_matrix(lattice)
    # the Z values interleaved: the k-th configuration of the r-th most
    # plausible Z comes at (k + 1) * (r + 1), so every Z is tried early
    # (the volume per atom of a compound is known only roughly)
    keyed = []
    for rank, z in enumerate(zs):
        counts = {e: n * z for e, n in amounts.items()}
        found = configurations(number, counts, limit=max(4, 400 >> rank))
        keyed += [((k + 1) * (rank + 1), rank, c) for k, c in enumerate(found)]
    pool = [c for _, _, c in sorted(keyed, key=lambda t: t[:2])]
    seeds = [
        (np.asarray(s), np.asarray(x, float) % 1.0) for s, x in seeds or []
    ]
    rng = np.random.default_rng(seed)

    def make_batch(configs):
        return TrialBatch(
            number, configs, elements, ftable, target, matrix, BUMP_WEIGHT
        )

    def structure_of(best):
        batch = make_batch([best[5]])
        return batch.structure(0, best[3], lattice)

    search = _Search(budget, on_best, stop_r)
    start = 0
    tried = set()
    while search.left() > 0:
        cycle = [pool[(start + i) % len(pool)] for i in range(max_configs)]
        cycle = list(dict.fromkeys(cycle))
        start = (start + len(cycle)) % len(pool)
        tried.update(cycle)
        _halving(search, cycle, make_batch, rng, seeds, steps, structure_of)
    ranked = sorted(search.best.values(), key=lambda b: b[0])[: int(top)]
    solutions = []
    for b in ranked:
        config = b[5]
        n_atoms = sum(wyckoff_sites(number)[i].multiplicity for _, i in config)
        solutions.append(
            DirectSpaceSolution(
                structure=structure_of(b),
                cost=b[0],
                r_intensity=b[1],
                bump=b[2],
                space_group=number,
                z=int(round(n_atoms / per_fu.sum())),
                wyckoff=_label(config, number),
                found_at=b[4],
            )
        )
    return DirectSpaceResult(
        solutions=solutions,
        history=search.history,
        evaluations=search.evaluations,
        configurations=len(tried),
        seconds=search.elapsed(),
    )
