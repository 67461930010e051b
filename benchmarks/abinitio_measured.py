"""Ab initio direct-space solution of the measured patterns (library off).

Every X-ray pattern of ``index_measured.py`` (``../shared/data/
experimental``) whose reference is an ordered structure (a CIF beside it,
the pdCIF's own phase, or the structures the data README gives for CeO2
and LaB6) is solved with
:func:`~diffpy.crystalnet.abinitio.direct_space.solve_direct_space`: the
reference's conventional cell and space group are given, the intensities
are extracted by a Pawley fit of the measured profile on that cell, and
the composition is the reference's.  No structure-type library is used.
The wrong-pattern control solves each case with the next case's pattern,
cell and space group but its own composition.  Disordered references
(mixed or partial sites: TaCr2O6, several minerals) and neutron patterns
are listed as skipped.

Run::

    python benchmarks/abinitio_measured.py --budget 30 \
        --out benchmarks/results/abinitio_measured.txt
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_abinitio import run_ours  # noqa: E402
from index_measured import (  # noqa: E402
    REPO,
    all_cases,
    cif_reference,
    load,
)

#: ordered references the data README gives (no CIF in the folders)
README_STRUCTURES = {
    "CeO2": ("Fm-3m", 5.411, ["Ce", "O"], [[0, 0, 0], [0.25, 0.25, 0.25]]),
    "LaB6": ("Pm-3m", 4.157, ["La", "B"], [[0, 0, 0], [0.1996, 0.5, 0.5]]),
}


def reference_structure(case):
    """The ordered reference structure of a case, or (None, why)."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifParser

    ref = case.reference
    if getattr(ref, "func", None) is cif_reference:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found = CifParser(ref.args[0]).parse_structures(
                    primitive=False
                )
            except Exception:
                return None, "no structure in the CIF"
        structure = found[0]
    else:
        name = next((k for k in README_STRUCTURES if k in case.label), None)
        if name is None and "LaB6" in str(case.path):
            name = "LaB6"
        if name is None:
            return None, "reference is a cell only"
        symbol, a, species, coords = README_STRUCTURES[name]
        structure = Structure.from_spacegroup(
            symbol, Lattice.cubic(a), species, coords
        )
    if not structure.is_ordered:
        return None, "disordered reference"
    return structure, ""


def _why(err):
    """The problem of an error, without the path."""
    return str(getattr(err, "problem", err))[:100]


def main(argv=None):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from diffpy.crystalnet.refine.pawley import extract_intensities

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data", type=Path, default=REPO.parent / "shared/data/experimental"
    )
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--max-atoms", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    lines = []

    def say(line):
        print(line, flush=True)
        lines.append(line)

    ready = []
    for case in all_cases(args.data):
        structure, why = reference_structure(case)
        if structure is None:
            say(f"{case.label:48s} skipped: {why}")
            continue
        try:
            pattern, radiation = load(case)
        except Exception as err:
            say(f"{case.label:48s} skipped: {_why(err)}")
            continue
        if radiation == "neutron":
            say(f"{case.label:48s} skipped: neutron pattern")
            continue
        sga = SpacegroupAnalyzer(structure, 0.01)
        truth = sga.get_refined_structure()
        if len(truth) > args.max_atoms:
            say(f"{case.label:48s} skipped: {len(truth)} atoms in the cell")
            continue
        t0 = time.perf_counter()
        try:
            ex = extract_intensities(
                pattern, truth.lattice, "P", cycles=1, max_nfev=30
            )
        except Exception as err:
            say(f"{case.label:48s} skipped: extraction: {_why(err)}")
            continue
        sites = len(sga.get_symmetrized_structure().equivalent_sites)
        ready.append(
            (
                case,
                truth,
                sga.get_space_group_number(),
                sites,
                ex,
                time.perf_counter() - t0,
            )
        )
    say(f"# {len(ready)} measured patterns, budget {args.budget:.0f} s")
    found = control_found = 0
    for k, (case, truth, number, sites, ex, t_ex) in enumerate(ready):
        formula = truth.composition.reduced_formula
        mine = run_ours(ex, number, formula, truth, args.budget, args.seed)
        other = ready[(k + 1) % len(ready)]
        ctrl = run_ours(
            other[4], other[2], formula, truth, args.budget, args.seed
        )
        found += mine["matched"]
        control_found += ctrl["matched"]
        t = mine.get("t_match")
        say(
            f"{case.label:48s} {formula:12s} SG {number:3d} atoms "
            f"{len(truth):3d} sites {sites:2d} pawley {t_ex:5.1f}s Rwp "
            f"{ex.rwp:.3f}: {'FOUND' if mine['matched'] else 'not found'}"
            f"{f' at {t:.0f} s' if t is not None else ''} R_I "
            f"{mine.get('r_i')} {mine.get('error', '')}| control "
            f"{'FOUND' if ctrl['matched'] else 'not found'} R_I "
            f"{ctrl.get('r_i')} {ctrl.get('error', '')}"
        )
    say(
        f"found {found}/{len(ready)} within {args.budget:.0f} s; "
        f"wrong-pattern control {control_found}/{len(ready)}"
    )
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
