"""Measure volume predictors for decorated structures on real crystals.

For pairs of real isostructural crystals (same space group and anonymous
formula, matched by pymatgen's StructureMatcher) from a CDVAE-format CSV,
the reference is substituted with the target's elements and its volume
predicted; the error against the target's real volume is reported for

* ``rls``: pymatgen RLSVolumePredictor (radius ratio from the reference;
  ionic radii when both formulas get integer oxidation states, as in the
  Decorator), ``rls-atomic`` the same with atomic radii only,
* ``dls``: pymatgen DLSVolumePredictor (data-mined bond lengths),
* ``radii``: scaling by the ratio of summed atomic-radius cubes,
* ``none``: keep the reference volume.

Usage::

    python benchmarks/volume_predictors.py PATH/TO/train.csv [max_pairs]
"""

import sys
import time
import warnings
from collections import defaultdict
from itertools import combinations

import numpy as np

warnings.filterwarnings("ignore")


def main(path, max_pairs=150):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from diffpy.crystalnet.datasets.decorate import (
        _oxidation_guess,
        predict_volume,
    )
    from diffpy.crystalnet.datasets.source_files import from_csv
    from diffpy.crystalnet.datasets.sources import select

    records = list(select(from_csv(path), max_atoms=20))
    groups = defaultdict(list)
    for r in records:
        s = r.structure
        sg = s.get_space_group_info(symprec=0.01)[1]
        groups[(sg, s.composition.anonymized_formula)].append(s)
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    pairs = []
    for members in groups.values():
        for a, b in combinations(members, 2):
            if a.composition.reduced_formula == b.composition.reduced_formula:
                continue
            mapping = matcher.get_best_electronegativity_anonymous_mapping(
                a, b
            )
            if mapping is None:
                continue
            pairs.append((a, b, mapping))
            pairs.append((b, a, {v: k for k, v in mapping.items()}))
    pairs = pairs[:max_pairs]
    print(f"{len(records)} structures, {len(pairs)} ordered pairs")
    n_ionic = [0]
    flags = []
    errors = defaultdict(list)
    times = defaultdict(float)
    for ref, target, mapping in pairs:
        new = ref.copy()
        new.replace_species({k: v for k, v in mapping.items()})
        # oxidation states as the Decorator assigns them (ionic radii)
        ox_ref = _oxidation_guess(ref.composition.reduced_formula)
        ox_new = _oxidation_guess(new.composition.reduced_formula)
        ref_ox, new_ox = ref, new
        if ox_ref and ox_new:
            ref_ox, new_ox = ref.copy(), new.copy()
            ref_ox.add_oxidation_state_by_element(ox_ref)
            new_ox.add_oxidation_state_by_element(ox_new)
            n_ionic[0] += 1
        flags.append(bool(ox_ref and ox_new))
        per_atom_true = target.volume / len(target)
        for method in ("rls", "rls-atomic", "dls", "radii", "none"):
            t0 = time.perf_counter()
            try:
                if method == "rls-atomic":
                    vol = predict_volume(new, ref, method="rls")
                else:
                    vol = predict_volume(new_ox, ref_ox, method=method)
            except Exception:
                vol = np.nan
            times[method] += time.perf_counter() - t0
            errors[method].append(
                np.log(vol / len(new) / per_atom_true) if vol else np.nan
            )
    print(f"{n_ionic[0]} pairs with oxidation states (ionic radii)")
    flags = np.array(flags)
    for subset, mask in (
        ("all pairs", np.ones_like(flags)),
        ("ionic pairs", flags),
        ("other pairs", ~flags),
    ):
        print(f"{subset} ({mask.sum()})")
        print(
            f"  {'method':10s} {'median |err| %':>15s} {'90% |err| %':>12s}"
            f" {'failed':>7s} {'ms/call':>8s}"
        )
        for method, errs in errors.items():
            e = np.abs(np.array(errs))[mask]
            ok = e[np.isfinite(e)]
            print(
                f"  {method:10s} {100 * np.expm1(np.median(ok)):15.1f} "
                f"{100 * np.expm1(np.percentile(ok, 90)):12.1f} "
                f"{np.sum(~np.isfinite(e)):7d} "
                f"{1000 * times[method] / len(errs):8.1f}"
            )


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
