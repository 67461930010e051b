#!/usr/bin/env python
"""Compare simulate_pattern with pymatgen's XRDCalculator on many structures.

Random symmetric crystals from pyxtal in space groups of all seven crystal
systems (conventional cells of at most 20 atoms), some with Debye-Waller
factors or mixed/partially occupied sites, plus classic structures.  For each
structure the sticks over 0-180 degrees 2-theta at Mo K-alpha are compared:
same peak count, positions within 1e-3 degrees, scaled intensities within
0.1, the same hkl families and multiplicities.

Usage::

    python scripts/validate_simulator.py [--per-system 30] [--seed 7]
"""

import argparse
import time
import warnings

import numpy as np
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.physics.lattice import SPACE_GROUP_RANGES as SYSTEMS
from diffpy.crystalnet.physics.simulator import simulate_pattern

ELEMENTS = (
    "H Li Be B C N O F Na Mg Al Si P S Cl K Ca Ti V Cr Mn Fe Co Ni Cu Zn "
    "Ga Ge As Se Br Rb Sr Y Zr Nb Mo Ru Pd Ag Cd In Sn Sb Te I Cs Ba La Ce "
    "Nd Gd Hf Ta W Pt Au Hg Pb Bi U"
).split()


def system_of(number):
    for name, (lo, hi) in SYSTEMS.items():
        if lo <= number <= hi:
            return name
    raise ValueError(number)


def classics():
    sg = Structure.from_spacegroup
    return [
        sg("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0] * 3, [0.5] * 3]),
        sg("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0] * 3, [0.5] * 3]),
        sg("Fm-3m", Lattice.cubic(5.46), ["Ca", "F"], [[0] * 3, [0.25] * 3]),
        sg("F-43m", Lattice.cubic(5.65), ["Ga", "As"], [[0] * 3, [0.25] * 3]),
        sg(
            "Pm-3m",
            Lattice.cubic(3.905),
            ["Sr", "Ti", "O"],
            [[0] * 3, [0.5] * 3, [0.5, 0.5, 0]],
        ),
        sg(
            "P6_3mc",
            Lattice.hexagonal(3.25, 5.21),
            ["Zn", "O"],
            [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
        ),
        sg(
            "R-3c",
            Lattice.hexagonal(4.76, 12.99),
            ["Al", "O"],
            [[0, 0, 0.352], [0.306, 0, 0.25]],
        ),
        sg(
            "P4_2/mnm",
            Lattice.tetragonal(4.594, 2.959),
            ["Ti", "O"],
            [[0, 0, 0], [0.305, 0.305, 0]],
        ),
    ]


def random_structure(number, rng, max_atoms=20, tries=40):
    """A pyxtal random crystal in space group ``number`` or None."""
    from pyxtal import pyxtal

    for _ in range(tries):
        n_el = int(rng.integers(1, 4))
        species = [str(e) for e in rng.choice(ELEMENTS, n_el, replace=False)]
        crystal = pyxtal()
        from pyxtal.symmetry import Group

        mults = sorted(
            {w.multiplicity for w in Group(number).Wyckoff_positions}
        )
        counts = [int(rng.choice(mults)) for _ in species]
        if sum(counts) > max_atoms:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                crystal.from_random(
                    3,
                    number,
                    species,
                    counts,
                    random_state=int(rng.integers(1 << 30)),
                )
        except Exception:
            continue
        if not crystal.valid:
            continue
        structure = crystal.to_pymatgen()
        if 0 < len(structure) <= max_atoms:
            return structure
    return None


def compare(structure, dw=None):
    """Deviation of our sticks from XRDCalculator's; timings."""
    t0 = time.perf_counter()
    ref = XRDCalculator("MoKa", debye_waller_factors=dw).get_pattern(
        structure, two_theta_range=(0, 180)
    )
    t1 = time.perf_counter()
    ours = simulate_pattern(structure, "MoKa", (0, 180), b_factors=dw)
    t2 = time.perf_counter()
    out = {"n_ref": len(ref.x), "n_ours": len(ours.x)}
    out["t_ref"], out["t_ours"] = t1 - t0, t2 - t1
    if len(ref.x) != len(ours.x):
        out.update(dx=np.inf, dy=np.inf, families=False)
        return out
    out["dx"] = float(np.max(np.abs(np.asarray(ref.x) - ours.x)))
    out["dy"] = float(np.max(np.abs(np.asarray(ref.y) - ours.y)))

    def fam(hkls):
        return [{(f["hkl"], f["multiplicity"]) for f in p} for p in hkls]

    out["families"] = fam(ref.hkls) == fam(ours.hkls)
    out["order"] = ref.hkls == ours.hkls
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-system", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    cases = [("classic", s, None) for s in classics()]
    for name, (lo, hi) in SYSTEMS.items():
        made = 0
        while made < args.per_system:
            number = int(rng.integers(lo, hi + 1))
            structure = random_structure(number, rng)
            if structure is None:
                continue
            dw = None
            if made % 5 == 1:
                dw = {
                    el.symbol: float(rng.uniform(0.1, 2.0))
                    for el in structure.composition
                }
            if made % 7 == 3:
                # one element becomes a mixed, partially occupied site
                sp = structure[0].specie.symbol
                other = str(rng.choice([e for e in ELEMENTS if e != sp]))
                structure.replace_species({sp: {sp: 0.6, other: 0.3}})
            cases.append((name, structure, dw))
            made += 1
    rows = {}
    failures = []
    ratios = []
    timings = []
    for label, structure, dw in cases:
        system = (
            system_of(structure.get_space_group_info()[1])
            if label == "classic"
            else label
        )
        r = compare(structure, dw)
        ok = (
            r["n_ref"] == r["n_ours"]
            and r["dx"] <= 1e-3
            and r["dy"] <= 0.1
            and r["families"]
        )
        ratios.append(r["t_ref"] / r["t_ours"])
        timings.append((ratios[-1], structure.composition.formula, r))
        row = rows.setdefault(
            system, dict(n=0, passed=0, dx=0.0, dy=0.0, order=0, peaks=0)
        )
        row["n"] += 1
        row["passed"] += ok
        row["dx"] = max(row["dx"], r["dx"])
        row["dy"] = max(row["dy"], r["dy"])
        row["order"] += bool(r.get("order"))
        row["peaks"] += r["n_ref"]
        if not ok:
            failures.append((structure.composition.formula, r))
    header = (
        f"{'system':13s} {'n':>4s} {'pass':>5s} {'max|d2theta|':>13s} "
        f"{'max|dI|':>10s} {'hkl order':>9s} {'peaks':>7s}"
    )
    print(header)
    print("-" * len(header))
    total = dict(n=0, passed=0)
    for system in SYSTEMS:
        if system not in rows:
            continue
        row = rows[system]
        total["n"] += row["n"]
        total["passed"] += row["passed"]
        print(
            f"{system:13s} {row['n']:4d} {row['passed']:5d} "
            f"{row['dx']:13.2e} {row['dy']:10.2e} {row['order']:9d} "
            f"{row['peaks']:7d}"
        )
    print(f"{'all':13s} {total['n']:4d} {total['passed']:5d}")
    print(
        f"speed ratio XRDCalculator/ours: median {np.median(ratios):.1f}x "
        f"(min {np.min(ratios):.1f}x, max {np.max(ratios):.1f}x)"
    )
    worst = min(timings, key=lambda t: t[0])
    print(
        f"lowest ratio: {worst[1]} XRDCalculator {worst[2]['t_ref']:.4f} s, "
        f"ours {worst[2]['t_ours']:.4f} s (single runs, shared CPU)"
    )
    for formula, r in failures:
        print("FAIL", formula, r)
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
