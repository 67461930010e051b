"""ObjCryst++/FOX direct-space global optimisation as a reference solver.

:func:`run_fox` solves a crystal structure from a powder profile with
ObjCryst++'s parallel-tempering Monte Carlo (``pyobjcryst.globaloptim.
MonteCarlo``, the algorithm of the FOX program), given the cell, the space
group and the content of the asymmetric unit: the side-by-side reference
for the project's own optimiser.

The recipe, as in FOX: a Le Bail fit of the profile (zero shift, Caglioti
U, V, W, pseudo-Voigt mixing, Bayesian interpolated background) with the
cell fixed; then free atoms at random positions, the dynamical occupancy
correction for atoms on special positions or on top of each other, an
anti-bump penalty at 0.75 times the sum of covalent radii, the integrated
profile cost to sin(theta)/lambda = 0.3 1/A, parallel tempering with
FOX's default schedules, restarts from a random configuration every
million trials until the wall-clock budget is spent.

Self-test (rock salt and PbSO4 on patterns simulated with the project's
lab profile)::

    python benchmarks/objcryst_reference.py --system nacl --budget 20
    python benchmarks/objcryst_reference.py --system pbso4 --budget 120

pyobjcryst pitfalls met here: ``Crystal`` takes its angles in radians and
the powder pattern its 2-theta in radians; ``MonteCarlo`` moves no atom
(only swaps of atoms) unless ``GetFullRefinableObj()`` is called before
the run; the C++ run holds the GIL, so progress can only be seen from the
``UpdateDisplay`` hook; ObjCryst++ reads an unknown Hermann-Mauguin symbol
as a Hall symbol, possibly a wrong group, hence the check of the
operations.

One core: ObjCryst++ is single-threaded; BLAS runs on one thread.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import ctypes  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

__all__ = ["run_fox"]

#: Cu K-alpha1 in angstrom, as tabulated by ObjCryst++.
CU_KA1 = 1.54056
#: Trials of one parallel-tempering run before a random restart.
TRIALS_PER_RUN = 1_000_000
#: Resolution limit of the cost during the optimisation, 1/A.
MAX_STOL = 0.3
#: Anti-bump distance as a fraction of the sum of covalent radii.
BUMP_FRACTION = 0.75
#: Sites of the expanded structure closer than this (A) are one site.
MERGE_DISTANCE = 0.5


def _objcryst_space_group(number, lattice_abc_angles):
    """An ObjCryst++ Crystal in spglib's default setting of a space group.

    The setting is spglib's default for the International Tables number
    (the smallest Hall number: unique axis b and cell choice 1 for the
    monoclinic groups, origin choice 1 where there are two, hexagonal
    axes for the rhombohedral groups).  ObjCryst++ (cctbx's sgtbx) gets
    the Hermann-Mauguin symbol without underscores, with ``:1``, ``:2``
    or ``:H`` appended where the setting has such a choice: the short
    symbol, else the full one, else the Hall symbol.  The images of a
    general position under ObjCryst++'s operations must be those under
    spglib's, which checks the order of the group and the setting.
    """
    import spglib
    from pyobjcryst.crystal import Crystal

    if not 1 <= int(number) <= 230:
        raise ValueError(f"no space group number {number}")
    for hall in range(1, 531):
        sg_type = spglib.get_spacegroup_type(hall)
        if not isinstance(sg_type, dict):  # spglib >= 2.5: a dataclass
            sg_type = vars(sg_type)
        if sg_type["number"] == int(number):
            break
    choice = sg_type["choice"]
    suffix = ":" + choice if choice in ("1", "2", "H") else ""
    candidates = [
        # spglib writes e.g. "P 2_1/c = P 1 2_1/c 1" for monoclinic groups
        sg_type["international"].split("=")[-1].strip().replace("_", "")
        + suffix,
        sg_type["international_full"].replace("_", "") + suffix,
        sg_type["hall_symbol"],
    ]
    database = spglib.get_symmetry_from_database(hall)
    point = np.array([0.1234, 0.3456, 0.7891])
    expected = np.mod(
        database["rotations"] @ point + database["translations"], 1.0
    )
    a, b, c, alpha, beta, gamma = (float(v) for v in lattice_abc_angles)
    for symbol in dict.fromkeys(candidates):
        try:
            # ObjCryst++ takes the angles in radians.
            crystal = Crystal(
                a, b, c, *np.radians([alpha, beta, gamma]), symbol
            )
        except ValueError:  # symbol not recognised
            continue
        group = crystal.GetSpaceGroup()
        images = np.mod(np.asarray(group.GetAllSymmetrics(*point)), 1.0)
        if len(images) != len(expected):  # not the order of the group
            continue
        delta = images[:, None, :] - expected[None, :, :]
        delta -= np.round(delta)
        if np.abs(delta).max(axis=2).min(axis=1).max() < 1e-6:
            return crystal
    raise ValueError(
        f"ObjCryst++ reads none of {candidates} as the {len(expected)} "
        f"operations of space group {number} (Hall {hall})"
    )


def _expanded_structure(crystal, lattice):
    """The crystal's configuration as a full-cell pymatgen Structure.

    Every independent atom is expanded with ObjCryst++'s symmetry
    operations; a site closer than :data:`MERGE_DISTANCE` to a site
    already kept (an atom on a special position, or atoms on top of each
    other, which the dynamical occupancy correction counts once) is
    dropped.
    """
    from pymatgen.core import Structure

    group = crystal.GetSpaceGroup()
    species, coords = [], []
    for i in range(crystal.GetNbScatterer()):
        atom = crystal.GetScatterer(i)
        element = atom.GetScatteringPower().GetSymbol()
        images = np.asarray(
            group.GetAllSymmetrics(atom.X, atom.Y, atom.Z), dtype=float
        ).reshape(-1, 3)
        for xyz in np.mod(images, 1.0):
            if coords:
                distances = lattice.get_all_distances(xyz, coords)[0]
                if distances.min() < MERGE_DISTANCE:
                    continue
            species.append(element)
            coords.append(xyz)
    return Structure(lattice, species, coords)


def _option(obj, name):
    """The option of an ObjCryst++ object with the given name."""
    for i in range(obj.GetNbOption()):
        option = obj.GetOption(i)
        if option.GetName() == name:
            return option
    raise KeyError(name)


def _set_up(two_theta, intensity, wavelength, lattice_abc_angles, group):
    """Crystal, powder pattern and diffraction component, profile fitted."""
    from pyobjcryst.powderpattern import PowderPattern, ReflectionProfileType

    crystal = _objcryst_space_group(group, lattice_abc_angles)

    pattern = PowderPattern()
    if abs(wavelength - CU_KA1) < 1e-3:
        # Cu tube: K-alpha1 + K-alpha2, intensity ratio 0.5.
        pattern.SetWavelength("Cu", 0.5)
    else:
        pattern.SetWavelength(float(wavelength))
    two_theta = np.asarray(two_theta, dtype=float)
    order_x = np.argsort(two_theta)
    # ObjCryst++ wants 2-theta in radians.
    pattern.SetPowderPatternX(np.radians(two_theta[order_x]))
    pattern.SetPowderPatternObs(
        np.clip(np.asarray(intensity, dtype=float)[order_x], 0.0, None)
    )
    diffraction = pattern.AddPowderPatternDiffraction(crystal)
    # A lab start: FWHM^2 = U tan^2 + V tan + W, in radians^2.
    diffraction.SetReflectionProfilePar(
        ReflectionProfileType.PROFILE_PSEUDO_VOIGT,
        np.radians(0.06) ** 2,
        np.radians(0.1) ** 2,
        -np.radians(0.03) ** 2,
        0.5,
        0.0,
    )
    # Le Bail fit: Bayesian background on 20 interpolation points, zero,
    # W, then U, V, then eta0, eta1, then the background; the cell stays.
    pattern.quick_fit_profile(
        auto_background=True,
        init_profile=False,
        plot=False,
        cell=False,
        verbose=False,
    )
    diffraction.SetExtractionMode(False)
    return crystal, pattern, diffraction


def _add_atoms(crystal, independent_atoms, rng):
    """Scattering powers, anti-bump distances and randomly placed atoms."""
    from pymatgen.analysis.molecule_structure_comparator import (
        CovalentRadius,
    )
    from pyobjcryst.atom import Atom
    from pyobjcryst.scatteringpower import ScatteringPowerAtom

    powers = {}
    for element in independent_atoms:
        if element not in powers:
            powers[element] = ScatteringPowerAtom(element, element, 1.0)
            crystal.AddScatteringPower(powers[element])
    radius = CovalentRadius.radius
    elements = list(powers)
    for i, first in enumerate(elements):
        for second in elements[i:]:
            distance = BUMP_FRACTION * (radius[first] + radius[second])
            # Atoms of one kind may merge (dynamical occupancy correction).
            crystal.SetBumpMergeDistance(
                powers[first], powers[second], distance, first == second
            )
    for i, element in enumerate(independent_atoms):
        x, y, z = rng.random(3)
        crystal.AddScatterer(
            Atom(x, y, z, f"{element}{i + 1}", powers[element], 1.0)
        )
    crystal.SetUseDynPopCorr(1)
    return powers


def run_fox(
    two_theta,
    intensity,
    wavelength,
    lattice_abc_angles,
    space_group,
    independent_atoms,
    budget=60.0,
    seed=0,
    on_best=None,
):
    """Solve a structure with ObjCryst++'s parallel tempering (FOX).

    The cell and the profile are fitted first (Le Bail, cell fixed); the
    atoms then start at random positions and ObjCryst++'s Monte Carlo in
    parallel-tempering mode (FOX's default schedules: "smart" temperature
    and exponential mutation amplitude) minimises the integrated-profile
    cost to sin(theta)/lambda = 0.3 1/A plus an anti-bump penalty, with
    the dynamical occupancy correction for atoms on special positions.
    A run restarts from a random configuration after a million trials;
    runs go on until ``budget`` seconds after the call.

    Parameters
    ----------
    two_theta, intensity : numpy.ndarray
        The observed profile: 2-theta in degrees, counts (sigma from
        counting statistics).
    wavelength : float
        The wavelength in angstrom.  Within 0.001 A of Cu K-alpha1
        (1.54056 A), ObjCryst++'s Cu tube is used: K-alpha1 and K-alpha2
        (1.54439 A) with an intensity ratio 0.5; otherwise a single
        wavelength.
    lattice_abc_angles : sequence of float
        (a, b, c, alpha, beta, gamma) in angstrom and degrees of the
        conventional cell in spglib's default setting of the group; it is
        not refined.
    space_group : int
        International Tables number; ObjCryst++ gets the full
        Hermann-Mauguin symbol of spglib's default setting (e.g.
        ``"P 1 21/c 1"``, ``"F d -3 m:1"``, ``"R -3 m:H"``), and the number
        of its symmetry operations is checked against the group order.
    independent_atoms : list of str
        Element symbols, one per symmetry-independent atom.
    budget : float, optional
        Wall-clock seconds from the call to the end of the optimisation
        (profile fit included; the final evaluation takes about a second
        more).
    seed : int, optional
        Seeds numpy (the start positions) and the C library's ``rand``
        that ObjCryst++ draws from; the runs stop on the clock, so results
        are only reproducible for the same number of trials.
    on_best : callable, optional
        ``on_best(seconds, cost, structure)`` when the best cost seen
        improves.  pyobjcryst cannot report every new best while
        ObjCryst++ runs: the configuration loaded at the moment is looked
        at when ObjCryst++ calls its display hook (about once a second)
        and the run's best at the end of every run; ``seconds`` count
        from the call.

    Returns
    -------
    dict
        ``structure`` (pymatgen.core.Structure: the best configuration
        expanded to the full cell, sites closer than 0.5 A merged),
        ``cost`` (ObjCryst++'s cost of it: integrated-profile
        -log-likelihood to sin(theta)/lambda = 0.3 1/A, scale fitted,
        plus the anti-bump penalty; within a run ObjCryst++ evaluates it
        with its fast approximations, a fraction of a percent off),
        ``rwp`` (ObjCryst++'s full-profile Rwp over the whole
        pattern, scale refitted), ``seconds`` (wall clock of the call),
        ``history`` (list of ``(seconds, cost, structure)``, one per
        improvement, as given to ``on_best``), ``trials``, ``runs``.
    """
    from pymatgen.core import Lattice
    from pyobjcryst.globaloptim import MonteCarlo

    start = time.perf_counter()
    deadline = start + float(budget)
    rng = np.random.default_rng(seed)
    ctypes.CDLL(None).srand(int(seed) % 2**32)

    crystal, pattern, diffraction = _set_up(
        two_theta,
        intensity,
        wavelength,
        lattice_abc_angles,
        space_group,
    )
    atoms = [str(element) for element in independent_atoms]
    _add_atoms(crystal, atoms, rng)
    lattice = Lattice.from_parameters(*lattice_abc_angles)
    pattern.SetMaxSinThetaOvLambda(MAX_STOL)

    history = []
    best_coordinates = []
    failure = []

    def record(cost):
        """Keep the loaded configuration if it is the best seen."""
        if history and cost >= history[-1][1]:
            return
        seconds = time.perf_counter() - start
        structure = _expanded_structure(crystal, lattice)
        best_coordinates[:] = [
            (atom.X, atom.Y, atom.Z)
            for atom in map(crystal.GetScatterer, range(len(atoms)))
        ]
        history.append((seconds, cost, structure))
        if on_best is not None:
            on_best(seconds, cost, structure)

    class _Tracking(MonteCarlo):
        """MonteCarlo whose display hook records the configuration."""

        def UpdateDisplay(self):
            if failure:
                return
            try:
                record(float(self.GetLogLikelihood()))
            except BaseException as error:  # not through the C++ frames
                failure.append(error)
                self.StopAfterCycle()

    optimizer = _Tracking("FOX reference")
    optimizer.AddRefinableObj(crystal)
    optimizer.AddRefinableObj(pattern)
    runs = trials = 0
    while not failure:
        left = deadline - time.perf_counter()
        if left < 0.5:
            break
        if runs:
            optimizer.RandomizeStartingConfig()
        # Without this, pyobjcryst's MonteCarlo moves no parameter (only
        # atom swaps): it builds the list of refined parameters.
        optimizer.GetFullRefinableObj()
        optimizer.RunParallelTempering(TRIALS_PER_RUN, 0, left)
        runs += 1
        trials += int(optimizer.trial)
        optimizer.RestoreBestConfiguration()
        record(float(optimizer.GetLogLikelihood()))
    if failure:
        raise failure[0]
    if not history:  # no time to optimise: the random start
        record(float(optimizer.GetLogLikelihood()))

    best_seconds, best_cost, best_structure = history[-1]
    # Rwp of the best configuration: full profile, whole pattern.
    for i, (x, y, z) in enumerate(best_coordinates):
        atom = crystal.GetScatterer(i)
        atom.X, atom.Y, atom.Z = x, y, z
    pattern.SetMaxSinThetaOvLambda(100.0)
    _option(pattern, "Use Integrated Profiles").SetChoice(1)
    pattern.FitScaleFactorForRw()
    rwp = float(pattern.GetRw())
    return {
        "structure": best_structure,
        "cost": best_cost,
        "rwp": rwp,
        "seconds": time.perf_counter() - start,
        "history": history,
        "trials": trials,
        "runs": runs,
    }


def _self_test_structures():
    """Name -> (structure, independent atoms) of the self-test."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    pbso4_atoms = ["Pb", "S", "O", "O", "O"]
    cases = {
        "nacl": (
            Structure.from_spacegroup(
                "Fm-3m",
                Lattice.cubic(5.64),
                ["Na", "Cl"],
                [[0] * 3, [0.5] * 3],
            ),
            ["Na", "Cl"],
        ),
        "pbso4": (
            Structure.from_spacegroup(
                "Pnma",
                Lattice.orthorhombic(8.482, 5.398, 6.959),
                pbso4_atoms,
                [
                    [0.1880, 0.25, 0.1670],
                    [0.0650, 0.25, 0.6840],
                    [0.9080, 0.25, 0.5950],
                    [0.1940, 0.25, 0.5430],
                    [0.0810, 0.0260, 0.8090],
                ],
            ),
            pbso4_atoms,
        ),
    }
    return {
        name: (
            SpacegroupAnalyzer(structure, 0.01).get_refined_structure(),
            atoms,
        )
        for name, (structure, atoms) in cases.items()
    }


def main(argv=None):
    """Self-test: solve simulated rock salt and PbSO4 lab patterns."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from diffpy.crystalnet.datasets.lab_profiles import lab_pattern
    from diffpy.crystalnet.model.metrics import structure_match

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "--system",
        choices=["nacl", "pbso4", "both"],
        default="both",
        help="structure to solve (default both)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="wall-clock seconds per structure (default 60)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)

    cases = _self_test_structures()
    names = list(cases) if args.system == "both" else [args.system]
    for name in names:
        truth, atoms = cases[name]
        pattern = lab_pattern(truth, np.random.default_rng(args.seed))
        group = SpacegroupAnalyzer(truth, 0.01).get_space_group_number()
        lattice = truth.lattice
        result = run_fox(
            pattern.two_theta,
            pattern.intensity,
            pattern.wavelength,
            lattice.abc + lattice.angles,
            group,
            atoms,
            budget=args.budget,
            seed=args.seed,
        )
        matched, rms = structure_match(result["structure"], truth)
        first = next(
            (
                seconds
                for seconds, _, structure in result["history"]
                if structure_match(structure, truth)[0]
            ),
            None,
        )
        print(
            f"{name}: space group {group}, {len(atoms)} independent atoms, "
            f"budget {args.budget:g} s"
        )
        print(
            f"  matched: {matched}"
            + (f" (rms {rms:.3f})" if matched else "")
            + ", first match at "
            + ("never" if first is None else f"{first:.1f} s")
        )
        print(
            f"  cost {result['cost']:.6g}, Rwp {result['rwp']:.4f}, "
            f"{result['seconds']:.1f} s, {result['trials']} trials in "
            f"{result['runs']} run(s), {len(result['history'])} improvements"
        )
        print(
            f"  found {result['structure'].composition.reduced_formula}, "
            f"{len(result['structure'])} sites "
            f"(truth {len(truth)})"
        )


if __name__ == "__main__":
    main()
