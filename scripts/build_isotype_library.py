#!/usr/bin/env python
"""Build the isotype (structure type) library shipped with the package.

Usage::

    python scripts/build_isotype_library.py \\
        src/diffpy/crystalnet/data/isotypes/isotypes.json.gz --force \\
        --csv ../shared/data/structures/mp20_dev/train.csv

Sources:

* the 288 AFLOW prototypes that pymatgen ships
  (``pymatgen.analysis.prototypes.AFLOW_PROTOTYPE_LIBRARY``, read through
  :func:`diffpy.crystalnet.datasets.sources.from_prototypes`' table);
* :data:`GENERATED`, classic structure types that AFLOW's set lacks, typed
  here from their space group, Wyckoff positions and a real example's cell;
* with ``--csv``, the structure types of real structures (a CDVAE CSV such
  as the ``mp20_dev`` training split) that are not yet in the library
  (element-blind StructureMatcher match), up to ``--max-atoms`` atoms in
  the conventional cell.

Every structure is standardised with spglib (conventional cell of the
setting spglib picks), reduced to one representative per Wyckoff orbit,
and checked: the orbits expanded with spglib's operations of that setting
(:func:`diffpy.crystalnet.isotypes.library.expand_orbit`) must give back every
atom (the origin-choice trap of hand-typed coordinates), generated types
must have the expected multiplicities and no two atoms closer than 0.7
times the sum of their covalent radii.  The slot permutations that map a
prototype onto itself (pymatgen ``StructureMatcher``) are stored so that
equivalent decorations are made once.
"""

import argparse
import gzip
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

#: classic structure types not in pymatgen's AFLOW set:
#: (label, name, example, space group number, setting choice,
#:  lattice (a, b, c, alpha, beta, gamma),
#:  [(element, expected multiplicity, (x, y, z)), ...])
GENERATED = [
    (
        "garnet-A3B2C3X12",
        "Garnet (grossular)",
        "Ca3Al2Si3O12",
        230,
        "",
        (11.846, 11.846, 11.846, 90, 90, 90),
        [
            ("Ca", 24, (0.125, 0.0, 0.25)),
            ("Al", 16, (0.0, 0.0, 0.0)),
            ("Si", 24, (0.375, 0.0, 0.25)),
            ("O", 96, (0.0381, 0.0449, 0.6514)),
        ],
    ),
    (
        "garnet-A3B5X12",
        "Garnet (YAG, both B sites Al)",
        "Y3Al5O12",
        230,
        "",
        (12.000, 12.000, 12.000, 90, 90, 90),
        [
            ("Y", 24, (0.125, 0.0, 0.25)),
            ("Al", 16, (0.0, 0.0, 0.0)),
            ("Al", 24, (0.375, 0.0, 0.25)),
            ("O", 96, (0.0381, 0.0449, 0.6514)),
        ],
    ),
    (
        "Th3P4",
        "Th3P4",
        "Th3P4",
        220,
        "",
        (8.618, 8.618, 8.618, 90, 90, 90),
        [
            ("Th", 12, (0.375, 0.0, 0.25)),
            ("P", 16, (0.0833, 0.0833, 0.0833)),
        ],
    ),
    (
        "Y3Au3Sb4",
        "Y3Au3Sb4 (filled Th3P4)",
        "Y3Au3Sb4",
        220,
        "",
        (9.84, 9.84, 9.84, 90, 90, 90),
        [
            ("Y", 12, (0.375, 0.0, 0.25)),
            ("Au", 12, (0.875, 0.0, 0.25)),
            ("Sb", 16, (0.0833, 0.0833, 0.0833)),
        ],
    ),
    (
        "pyrochlore-A2B2X7",
        "Pyrochlore",
        "Gd2Ti2O7",
        227,
        "2",
        (10.185, 10.185, 10.185, 90, 90, 90),
        [
            ("Gd", 16, (0.5, 0.5, 0.5)),
            ("Ti", 16, (0.0, 0.0, 0.0)),
            ("O", 48, (0.33, 0.125, 0.125)),
            ("O", 8, (0.375, 0.375, 0.375)),
        ],
    ),
    (
        "K2PtCl6",
        "K2PtCl6 (antifluorite of octahedra)",
        "K2PtCl6",
        225,
        "",
        (9.755, 9.755, 9.755, 90, 90, 90),
        [
            ("K", 8, (0.25, 0.25, 0.25)),
            ("Pt", 4, (0.0, 0.0, 0.0)),
            ("Cl", 24, (0.2395, 0.0, 0.0)),
        ],
    ),
    (
        "double-perovskite-A2BB'X6",
        "Double perovskite, elpasolite (rock-salt ordered)",
        "Ba2MgWO6",
        225,
        "",
        (8.100, 8.100, 8.100, 90, 90, 90),
        [
            ("Ba", 8, (0.25, 0.25, 0.25)),
            ("Mg", 4, (0.0, 0.0, 0.0)),
            ("W", 4, (0.5, 0.5, 0.5)),
            ("O", 24, (0.263, 0.0, 0.0)),
        ],
    ),
    (
        "inverse-Heusler-Hg2CuTi",
        "Inverse Heusler (XA, Hg2CuTi)",
        "Hg2CuTi",
        216,
        "",
        (6.20, 6.20, 6.20, 90, 90, 90),
        [
            ("Hg", 4, (0.0, 0.0, 0.0)),
            ("Hg", 4, (0.25, 0.25, 0.25)),
            ("Cu", 4, (0.5, 0.5, 0.5)),
            ("Ti", 4, (0.75, 0.75, 0.75)),
        ],
    ),
    (
        "quaternary-Heusler-LiMgPdSn",
        "Quaternary Heusler (LiMgPdSn, Y-type)",
        "LiMgPdSn",
        216,
        "",
        (6.76, 6.76, 6.76, 90, 90, 90),
        [
            ("Sn", 4, (0.0, 0.0, 0.0)),
            ("Mg", 4, (0.5, 0.5, 0.5)),
            ("Pd", 4, (0.25, 0.25, 0.25)),
            ("Li", 4, (0.75, 0.75, 0.75)),
        ],
    ),
    (
        "Fe4N",
        "gamma'-Fe4N (antiperovskite)",
        "Fe4N",
        221,
        "",
        (3.795, 3.795, 3.795, 90, 90, 90),
        [
            ("Fe", 1, (0.0, 0.0, 0.0)),
            ("Fe", 3, (0.0, 0.5, 0.5)),
            ("N", 1, (0.5, 0.5, 0.5)),
        ],
    ),
    (
        "CdCl2",
        "CdCl2",
        "CdCl2",
        166,
        "H",
        (3.846, 3.846, 17.479, 90, 90, 120),
        [
            ("Cd", 3, (0.0, 0.0, 0.0)),
            ("Cl", 6, (0.0, 0.0, 0.25)),
        ],
    ),
    (
        "delafossite-ABX2",
        "Delafossite",
        "CuFeO2",
        166,
        "H",
        (3.035, 3.035, 17.166, 90, 90, 120),
        [
            ("Cu", 3, (0.0, 0.0, 0.0)),
            ("Fe", 3, (0.0, 0.0, 0.5)),
            ("O", 6, (0.0, 0.0, 0.1066)),
        ],
    ),
    (
        "alpha-NaFeO2-ABX2",
        "alpha-NaFeO2 (LiCoO2, layered rock salt)",
        "LiCoO2",
        166,
        "H",
        (2.816, 2.816, 14.05, 90, 90, 120),
        [
            ("Li", 3, (0.0, 0.0, 0.5)),
            ("Co", 3, (0.0, 0.0, 0.0)),
            ("O", 6, (0.0, 0.0, 0.2396)),
        ],
    ),
    (
        "LaAlO3-R-3c",
        "Rhombohedral perovskite (LaAlO3)",
        "LaAlO3",
        167,
        "H",
        (5.365, 5.365, 13.11, 90, 90, 120),
        [
            ("La", 6, (0.0, 0.0, 0.25)),
            ("Al", 6, (0.0, 0.0, 0.0)),
            ("O", 18, (0.5254, 0.0, 0.25)),
        ],
    ),
    (
        "A-La2O3",
        "A-type rare-earth sesquioxide",
        "La2O3",
        164,
        "",
        (3.938, 3.938, 6.136, 90, 90, 120),
        [
            ("La", 2, (1 / 3, 2 / 3, 0.2467)),
            ("O", 2, (1 / 3, 2 / 3, 0.6470)),
            ("O", 1, (0.0, 0.0, 0.0)),
        ],
    ),
    (
        "ZrNiAl",
        "ZrNiAl (ordered Fe2P)",
        "ZrNiAl",
        189,
        "",
        (6.913, 6.913, 3.463, 90, 90, 120),
        [
            ("Zr", 3, (0.5812, 0.0, 0.5)),
            ("Al", 3, (0.2349, 0.0, 0.0)),
            ("Ni", 1, (0.0, 0.0, 0.5)),
            ("Ni", 2, (1 / 3, 2 / 3, 0.0)),
        ],
    ),
    (
        "Mn5Si3",
        "Mn5Si3 (D8_8)",
        "Mn5Si3",
        193,
        "",
        (6.910, 6.910, 4.814, 90, 90, 120),
        [
            ("Mn", 4, (1 / 3, 2 / 3, 0.0)),
            ("Mn", 6, (0.2358, 0.0, 0.25)),
            ("Si", 6, (0.5992, 0.0, 0.25)),
        ],
    ),
    (
        "hexagonal-perovskite-CsNiCl3",
        "Hexagonal perovskite (CsNiCl3, BaNiO3)",
        "BaNiO3",
        194,
        "",
        (5.629, 5.629, 4.811, 90, 90, 120),
        [
            ("Ba", 2, (1 / 3, 2 / 3, 0.75)),
            ("Ni", 2, (0.0, 0.0, 0.0)),
            ("O", 6, (0.148, 0.296, 0.25)),
        ],
    ),
    (
        "beta-Si3N4",
        "beta-Si3N4 (phenakite-related)",
        "Si3N4",
        176,
        "",
        (7.606, 7.606, 2.909, 90, 90, 120),
        [
            ("Si", 6, (0.1733, 0.7694, 0.25)),
            ("N", 6, (0.3323, 0.0314, 0.25)),
            ("N", 2, (1 / 3, 2 / 3, 0.25)),
        ],
    ),
    (
        "ThCr2Si2",
        "ThCr2Si2 (BaFe2As2, 122)",
        "BaFe2As2",
        139,
        "",
        (3.963, 3.963, 13.02, 90, 90, 90),
        [
            ("Ba", 2, (0.0, 0.0, 0.0)),
            ("Fe", 4, (0.0, 0.5, 0.25)),
            ("As", 4, (0.0, 0.0, 0.3545)),
        ],
    ),
]

#: prototypes with atoms closer than this many covalent radii are left out
#: (pymatgen's AFLOW set has a few mistyped entries: ullmannite NiSbS at
#: 0.39; real crystals stay above 0.72)
MIN_DISTANCE_RATIO = 0.6

#: stand-in elements for slots when looking for slot symmetries
_PLACEHOLDERS = "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca".split()


def hall_number(number, choice=""):
    """spglib Hall number of a space group setting."""
    import spglib

    found = []
    for hall in range(1, 531):
        t = spglib.get_spacegroup_type(hall)
        if t.number == number:
            found.append((hall, t.choice))
    for hall, c in found:
        if c == choice:
            return hall
    if choice:
        raise ValueError(f"no setting {choice!r} of space group {number}")
    return found[0][0]


def generated_structure(spec):
    """Expand a generated type into a pymatgen Structure (with checks)."""
    from pymatgen.core import Lattice, Structure

    from diffpy.crystalnet.isotypes.library import expand_orbit

    label, _, _, number, choice, lattice, sites = spec
    hall = hall_number(number, choice)
    species, coords = [], []
    for element, mult, xyz in sites:
        orbit = expand_orbit(xyz, hall)
        if len(orbit) != mult:
            raise SystemExit(
                f"{label}: {element} at {xyz} gives {len(orbit)} positions, "
                f"expected {mult}"
            )
        species += [element] * len(orbit)
        coords.append(orbit)
    return Structure(
        Lattice.from_parameters(*lattice), species, np.vstack(coords)
    )


def _slot_structure(lattice, coords, slots, order, mapping=None):
    from pymatgen.core import Structure

    mapping = mapping or {s: s for s in order}
    names = {s: _PLACEHOLDERS[i] for i, s in enumerate(order)}
    return Structure(lattice, [names[mapping[s]] for s in slots], coords)


def slot_symmetries(lattice, coords, slots, counts):
    """Slot permutations that map the structure onto itself."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    order = sorted(counts)
    if len(order) > len(_PLACEHOLDERS):
        return [tuple(order)]
    groups = {}
    for s in order:
        groups.setdefault(counts[s], []).append(s)
    if all(len(g) == 1 for g in groups.values()):
        return [tuple(order)]
    reference = _slot_structure(lattice, coords, slots, order)
    matcher = StructureMatcher(
        ltol=0.05,
        stol=0.05,
        angle_tol=1.0,
        primitive_cell=True,
        scale=False,
        attempt_supercell=False,
    )
    found = []
    parts = [
        [dict(zip(g, p)) for p in itertools.permutations(g)]
        for g in groups.values()
    ]
    for combo in itertools.product(*parts):
        perm = {}
        for part in combo:
            perm.update(part)
        image = tuple(perm[s] for s in order)
        if image == tuple(order):
            found.append(image)
            continue
        other = _slot_structure(lattice, coords, slots, order, perm)
        if matcher.fit(reference, other):
            found.append(image)
    return found


def to_prototype(structure, label, name, strukturbericht, pearson, source):
    """Standardise a structure and reduce it to Wyckoff representatives."""
    import spglib
    from pymatgen.core import Lattice

    from diffpy.crystalnet.isotypes.library import (
        Prototype,
        Site,
        expand_orbit,
        stoichiometry_of,
    )
    from diffpy.crystalnet.physics.lattice import crystal_system_of

    elements = sorted({sp.symbol for sp in structure.species})
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    slot_of = {el: letters[i] for i, el in enumerate(elements)}
    numbers = [elements.index(sp.symbol) + 1 for sp in structure.species]
    cell = (structure.lattice.matrix, structure.frac_coords, numbers)
    data = spglib.get_symmetry_dataset(cell, symprec=1e-3)
    std = (data.std_lattice, data.std_positions, data.std_types)
    again = spglib.get_symmetry_dataset(std, symprec=1e-3)
    if again.number != data.number:
        raise ValueError("standard cell changes the space group")
    positions = np.mod(np.asarray(std[1], dtype=float), 1.0)
    types = np.asarray(std[2])
    sites, seen = [], set()
    for i, rep in enumerate(again.equivalent_atoms):
        if rep in seen:
            continue
        seen.add(rep)
        members = np.flatnonzero(again.equivalent_atoms == rep)
        orbit = expand_orbit(positions[rep], again.hall_number)
        ok = len(orbit) == len(members)
        if ok:
            for p in positions[members]:
                d = np.abs((orbit - p + 0.5) % 1.0 - 0.5).max(axis=1)
                ok &= bool(d.min() < 2e-3)
        if not ok:
            raise ValueError(
                f"orbit of atom {rep} does not expand to its {len(members)} "
                "atoms with the operations of the setting"
            )
        element = elements[types[rep] - 1]
        sites.append(
            Site(
                slot=slot_of[element],
                wyckoff=f"{len(members)}{again.wyckoffs[rep]}",
                multiplicity=int(len(members)),
                xyz=tuple(float(v) for v in positions[rep]),
            )
        )
    sites.sort(key=lambda s: (s.slot, -s.multiplicity, s.wyckoff))
    counts = {}
    for s in sites:
        counts[s.slot] = counts.get(s.slot, 0) + s.multiplicity
    lattice = Lattice(std[0])
    number = int(again.number)
    proto = Prototype(
        label=label,
        name=name or "",
        strukturbericht=strukturbericht,
        pearson=pearson or "",
        example=structure.composition.reduced_formula,
        spacegroup_number=number,
        spacegroup_symbol=again.international,
        hall_number=int(again.hall_number),
        system=crystal_system_of(number),
        lattice=tuple(float(v) for v in lattice.parameters),
        sites=tuple(sites),
        slot_elements={v: k for k, v in slot_of.items()},
        stoichiometry=stoichiometry_of(counts.values()),
        source=source,
    )
    coords, slots = proto.positions()
    symmetries = slot_symmetries(lattice, coords, slots, counts)
    return Prototype.from_dict(
        dict(proto.to_dict(), slot_symmetries=[list(p) for p in symmetries])
    )


def aflow_entries():
    """(structure, label, name, strukturbericht, pearson) of AFLOW."""
    from pymatgen.analysis.prototypes import AFLOW_PROTOTYPE_LIBRARY

    for entry in AFLOW_PROTOTYPE_LIBRARY:
        tags = entry["tags"]
        yield (
            entry["snl"].structure,
            tags["aflow"],
            (tags.get("mineral") or "").strip(),
            tags.get("strukturbericht") or None,
            tags.get("pearson"),
        )


def csv_entries(path):
    """(structure, label, name, strukturbericht, pearson) of a CDVAE CSV.

    Each row's ``cif`` (a P1 cell) becomes a candidate structure type,
    labelled ``<file stem>:<material_id>`` and named after its formula.
    """
    import csv
    from pathlib import Path

    from pymatgen.core import Structure

    csv.field_size_limit(sys.maxsize)
    stem = Path(path).stem
    with open(path, newline="") as handle:
        for k, row in enumerate(csv.DictReader(handle)):
            structure = Structure.from_str(row["cif"], fmt="cif")
            mid = row.get("material_id") or str(k)
            formula = structure.composition.reduced_formula
            yield structure, f"{stem}:{mid}", f"{formula} ({mid})", None, None


def _type_key(structure):
    """Space group, atoms in the primitive cell and sorted multiplicities:
    structures of one type share it."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    analyzer = SpacegroupAnalyzer(structure, symprec=0.01)
    counts = sorted(structure.composition.get_el_amt_dict().values())
    total = sum(counts)
    primitive = analyzer.find_primitive()
    return (
        analyzer.get_space_group_number(),
        len(primitive),
        tuple(round(c / total, 4) for c in counts),
    )


class _TypeIndex:
    """Structure types seen so far (anonymous StructureMatcher match)."""

    def __init__(self):
        from pymatgen.analysis.structure_matcher import StructureMatcher

        self.matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
        self.seen = {}

    def known(self, structure):
        """The label of a known type of ``structure``, else None."""
        key = _type_key(structure)
        for label, other in self.seen.get(key, []):
            if self.matcher.fit_anonymous(structure, other):
                return label
        return None

    def add(self, structure, label):
        self.seen.setdefault(_type_key(structure), []).append(
            (label, structure)
        )


def main(argv=None):
    from diffpy.crystalnet.datasets.decorate import min_distance_ratio
    from diffpy.crystalnet.io.files import atomic_output
    from diffpy.crystalnet.isotypes.library import LIBRARY_FORMAT

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", help="library file (.json.gz)")
    parser.add_argument(
        "--force", action="store_true", help="replace an existing file"
    )
    parser.add_argument(
        "--csv",
        action="append",
        default=[],
        help="CDVAE CSV of real structures (cif column) whose structure "
        "types join the library when AFLOW and the generated types lack "
        "them; repeat for several (only training splits: a test structure "
        "in the library would leak into the benchmarks)",
    )
    parser.add_argument(
        "--max-atoms",
        type=int,
        default=40,
        help="largest conventional cell taken from --csv",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    warnings.simplefilter("ignore")
    prototypes, failed, labels = [], [], {}
    items = [(*e, "aflow") for e in aflow_entries()]
    for spec in GENERATED:
        structure = generated_structure(spec)
        ratio = min_distance_ratio(structure)
        if not ratio >= 0.7:  # stricter for hand-typed coordinates
            raise SystemExit(
                f"{spec[0]}: atoms too close ({ratio:.2f} x covalent radii)"
            )
        print(f"generated {spec[0]:32s} min distance ratio {ratio:.2f}")
        items.append((structure, spec[0], spec[1], None, None, "generated"))
    for path in args.csv:
        items += [(*e, "csv") for e in csv_entries(path)]
    types, repeated = _TypeIndex(), 0
    for structure, label, name, sb, pearson, source in items:
        if source == "csv":
            same = types.known(structure)
            if same is not None:
                repeated += 1
                continue
        count = labels.get(label, 0) + 1
        labels[label] = count
        unique = label if count == 1 else f"{label}-{count}"
        ratio = min_distance_ratio(structure)
        if ratio < MIN_DISTANCE_RATIO:
            failed.append(
                f"{unique}: atoms {ratio:.2f} x covalent radii apart"
            )
            continue
        try:
            proto = to_prototype(structure, unique, name, sb, pearson, source)
        except ValueError as exc:
            failed.append(f"{unique}: {exc}")
            continue
        if proto.n_atoms != len(structure) * round(
            proto.n_atoms / len(structure)
        ):
            failed.append(f"{unique}: {proto.n_atoms} atoms after standard")
            continue
        if source == "csv" and proto.n_atoms > args.max_atoms:
            failed.append(f"{unique}: {proto.n_atoms} atoms")
            continue
        types.add(structure, unique)
        prototypes.append(proto)
    data = dict(
        format=LIBRARY_FORMAT,
        version=1,
        built_by="scripts/build_isotype_library.py",
        sources=dict(
            aflow="pymatgen.analysis.prototypes.AFLOW_PROTOTYPE_LIBRARY",
            generated="scripts/build_isotype_library.py GENERATED",
            **({"csv": [Path(p).name for p in args.csv]} if args.csv else {}),
        ),
        prototypes=[p.to_dict() for p in prototypes],
    )
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    payload = gzip.compress(text.encode("utf-8"), mtime=0)
    with atomic_output(args.output, force=args.force) as tmp:
        tmp.write_bytes(payload)
    by_source = {}
    for p in prototypes:
        by_source[p.source] = by_source.get(p.source, 0) + 1
    by_system = {}
    for p in prototypes:
        by_system[p.system] = by_system.get(p.system, 0) + 1
    print(f"wrote {args.output}: {len(prototypes)} prototypes {by_source}")
    print(f"by system: {dict(sorted(by_system.items()))}")
    print(f"{len(payload)} bytes, {time.perf_counter() - started:.1f} s")
    if args.csv:
        print(f"{repeated} --csv structures repeat a type already taken")
    for line in failed:
        print("skipped", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
