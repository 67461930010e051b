"""Intensity extraction and Fourier recycling on simulated lab patterns.

Structures: cubic and trigonal AFLOW prototypes bundled with pymatgen
(``diffpy.crystalnet.datasets.sources.from_prototypes``), shuffled with
``--seed``. Each gets a realistic Cu K-alpha lab profile (10-110 deg, K-alpha1
+ K-alpha2, Caglioti widths, size and strain broadening, zero shift, Chebyshev
background, Poisson noise, B = 0.5-1.2 angstrom^2; the recipe of
``scripts/solve_benchmark.py``), decomposed with ``extract_intensities`` on the
primitive CMED cell.  Reported per structure: Rwp and reduced chi2 of the
decomposition, the correlation of the extracted group intensities with the true
``sum |F|^2`` of the groups (observed groups), the time.

Then the true CMED density (``cmed``, n^3 grid, B = 5) is damaged in
several ways and recycled with ``fourier_recycle``; the table gives the
median Pearson correlation with the true density before and after, for
the default (10 cycles, positivity), 3 cycles, 10 cycles plus 20
charge-flipping cycles, and (for the blurred map) a fixed ``delta_b``:

* ``phase30/50/70``: Friedel-consistent Gaussian phase errors (degrees) on
  every Fourier coefficient, amplitudes exact;
* ``phase50+amp``: the same plus log-normal amplitude errors (sigma 0.5);
* ``noise+blur``: white noise (20 % of the maximum), Gaussian blur of 1.5
  voxels, clipped at zero (``degrade`` of ``scripts/solve_benchmark.py``);
* ``shift0.3``: the CMED of the structure with every atom moved 0.3
  angstrom in a random direction.

Variants: ``w_unobs=0`` drops the reflections the pattern does not
measure, ``dB=5-B`` uses the true relative blur instead of fitting it.

With ``--decode`` each density is also decoded before and after
(``decode_density`` with the composition) and matched to the structure
(StructureMatcher, ltol 0.2, stol 0.3, angle_tol 5); with ``--network``
two densities predicted by the shipped model are added as damages
(``network1``, ``network2``; the prototypes may be in its training set).

Usage::

    python benchmarks/bench_improve.py --limit 10 --decode --network
"""

import argparse
import statistics
import time

import numpy as np

DAMAGES = (
    "phase30",
    "phase50",
    "phase70",
    "phase50+amp",
    "noise+blur",
    "shift0.3",
)


def structures(limit, seed):
    from diffpy.crystalnet.datasets.sources import from_prototypes

    records = list(
        from_prototypes(systems=("cubic", "trigonal"), max_atoms=16)
    )
    rng = np.random.default_rng(seed)
    rng.shuffle(records)
    return records[:limit]


def lab_pattern(structure, rng):
    """A lab Cu K-alpha profile (seeded) and the B it was made with."""
    from diffpy.crystalnet.datasets.lab_profiles import random_lab_profile
    from diffpy.crystalnet.physics.simulator import simulate_pattern

    profile, b_iso = random_lab_profile(rng)
    pattern = simulate_pattern(
        structure, "CuKa", (10, 110), profile=profile, b_factors=b_iso
    )
    return pattern, b_iso


def mate(a):
    """a(-h) on an FFT grid."""
    return np.roll(np.flip(a, (0, 1, 2)), 1, (0, 1, 2))


def damage(kind, truth, prim, n, rng):
    from scipy.ndimage import gaussian_filter

    from diffpy.crystalnet.density.cmed import cmed

    if kind.startswith("phase"):
        deg = float(kind[5:7])
        f = np.fft.fftn(truth)
        r = rng.normal(0.0, np.radians(deg), f.shape)
        g = f * np.exp(1j * (r - mate(r)) / np.sqrt(2.0))
        if kind.endswith("amp"):
            a = np.exp(rng.normal(0.0, 0.5, f.shape))
            g *= np.sqrt(a * mate(a))
        g[0, 0, 0] = f[0, 0, 0]
        return np.real(np.fft.ifftn(g))
    if kind == "noise+blur":
        noisy = truth + rng.normal(0.0, 0.2 * truth.max(), truth.shape)
        return np.clip(gaussian_filter(noisy, 1.5, mode="wrap"), 0.0, None)
    if kind.startswith("shift"):
        step = float(kind[5:])
        wrong = prim.copy()
        for i in range(len(wrong)):
            v = rng.normal(size=3)
            wrong.translate_sites([i], step * v / np.linalg.norm(v), False)
        return cmed(wrong, n=n, standardize=False)
    raise ValueError(kind)


def corr(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def true_group_f2(prim, ex, b_iso):
    from diffpy.crystalnet.physics.scattering import (
        _scatterers,
        _structure_factor_sq,
    )

    sc = _scatterers(prim, "benchmark")
    d = ex.d / (1.0 + ex.parameters["strain"])
    f2 = _structure_factor_sq(
        ex.hkl, (0.5 / d) ** 2, sc, np.full(len(sc["z"]), b_iso), None
    )
    return np.bincount(ex.group, weights=f2, minlength=ex.n_groups)


def decodes(grid, prim, structure):
    """Whether the decoded density matches the structure."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from diffpy.crystalnet.density.decode import decode_density
    from diffpy.crystalnet.errors import CrystalNetInputError

    try:
        dec = decode_density(
            grid, prim.lattice, prim.composition.reduced_formula
        )
    except CrystalNetInputError:
        return False
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    return bool(matcher.fit(dec.structure, structure))


def network_density(net, pattern, prim, n, sample):
    from diffpy.crystalnet.physics.composition import composition_vector

    mi = pattern.to_model_input()
    grids = net.predict_grid(
        mi.intensity,
        composition_vector(prim.composition.reduced_formula),
        n=n,
        samples=sample + 1,
        seed=0,
        mask=mi.mask,
    )
    return np.asarray(grids[sample], dtype=float)


def run(args):
    from diffpy.crystalnet.density.cmed import DEFAULT_B_ISO, cmed
    from diffpy.crystalnet.physics.cells import cmed_cell
    from diffpy.crystalnet.refine.pawley import extract_intensities
    from diffpy.crystalnet.solver.recycle import fourier_recycle

    rng = np.random.default_rng(args.seed)
    damages = list(DAMAGES)
    net = None
    if args.network:
        import torch

        from diffpy.crystalnet.model.checkpoint import load_model

        torch.set_num_threads(1)
        net = load_model(None)
        damages += ["network1", "network2"]
    variants = {
        "default": dict(),
        "3 cycles": dict(cycles=3),
        "+flip20": dict(flip=20),
        "no positivity": dict(positivity=False),
        "w_unobs=0": dict(weight_unobserved=0.0),
        "dB=5-B": None,  # the true relative blur, per structure
    }
    cols = ["before", *variants]
    table = {(k, v): [] for k in damages for v in cols}
    matches = {(k, v): 0 for k in damages for v in ("before", "default")}
    rows = []
    t_recycle = []
    for record in structures(args.limit, args.seed):
        prim = cmed_cell(record.structure)
        pattern, b_iso = lab_pattern(record.structure, rng)
        t0 = time.perf_counter()
        ex = extract_intensities(pattern, prim.lattice)
        dt = time.perf_counter() - t0
        truth_g = true_group_f2(prim, ex, b_iso)
        obs = (
            np.bincount(ex.group, weights=ex.observed, minlength=ex.n_groups)
            == ex.group_size
        )
        c_int = corr(truth_g[obs], ex.group_intensity[obs])
        rows.append(
            (
                record.id,
                prim.composition.reduced_formula,
                len(prim),
                len(ex.hkl),
                ex.n_groups,
                ex.rwp,
                ex.chi2,
                c_int,
                dt,
            )
        )
        truth = cmed(prim, n=args.n, standardize=False)
        for kind in damages:
            if kind.startswith("network"):
                sample = int(kind[-1]) - 1
                bad = network_density(net, pattern, prim, args.n, sample)
            else:
                bad = damage(kind, truth, prim, args.n, rng)
            table[(kind, "before")].append(corr(bad, truth))
            for name, kw in variants.items():
                if kw is None:
                    kw = dict(delta_b=DEFAULT_B_ISO - b_iso)
                t1 = time.perf_counter()
                out = fourier_recycle(bad, prim.lattice, ex, **kw)
                if name == "default":
                    t_recycle.append(time.perf_counter() - t1)
                table[(kind, name)].append(corr(out.density, truth))
                if name == "default" and args.decode:
                    s = record.structure
                    matches[(kind, "before")] += decodes(bad, prim, s)
                    matches[(kind, "default")] += decodes(out.density, prim, s)
        print(
            "{:<28s} {:<10s} {:3d} atoms {:4d} refl {:3d} groups "
            "Rwp {:.3f} chi2 {:.2f} corr(I) {:.4f} {:.2f} s".format(*rows[-1]),
            flush=True,
        )
    med = statistics.median
    print()
    print(
        f"decomposition: median Rwp {med(r[5] for r in rows):.3f}, "
        f"median chi2 {med(r[6] for r in rows):.2f}, median "
        f"corr(I_obs, I_true) {med(r[7] for r in rows):.4f}, "
        f"min {min(r[7] for r in rows):.4f}, "
        f"median time {med(r[8] for r in rows):.2f} s"
    )
    print(
        f"recycling (default, n={args.n}): median time "
        f"{med(t_recycle):.3f} s"
    )
    print()
    print("median Pearson correlation with the true density")
    print(f"{'damage':<12s}" + "".join(f"{c:>14s}" for c in cols))
    for kind in damages:
        line = f"{kind:<12s}"
        for c in cols:
            line += f"{med(table[(kind, c)]):14.3f}"
        better = sum(
            a > b
            for a, b in zip(table[(kind, "default")], table[(kind, "before")])
        )
        line += f"   default better in {better}/{len(rows)}"
        if args.decode:
            line += (
                f", decoded match {matches[(kind, 'before')]} -> "
                f"{matches[(kind, 'default')]}"
            )
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=50, help="grid size")
    parser.add_argument(
        "--decode",
        action="store_true",
        help="decode before/after and match the structure",
    )
    parser.add_argument(
        "--network",
        action="store_true",
        help="also two densities of the shipped model",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
