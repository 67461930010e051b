"""CHGCAR writing: our batched writer against pymatgen's ``Chgcar.write_file``.

Writes the same random ``n^3`` density (a triclinic three-atom cell) with
:func:`diffpy.crystalnet.io.volumetric.write_chgcar` and with pymatgen's
``Chgcar.write_file`` (both after their imports), ``--repeat`` times each,
and prints the median times, their ratio and the largest relative difference
of the values pymatgen reads back from the two files.

Usage::

    python benchmarks/bench_volumetric.py [--grid 50] [--repeat 5]
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp import Chgcar

    from diffpy.crystalnet.io.volumetric import to_volumetric, write_chgcar

    structure = Structure(
        Lattice.from_parameters(5, 6, 7, 80, 95, 100),
        ["Na", "Cl", "Cl"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.1, 0.2, 0.3]],
    )
    rng = np.random.default_rng(0)
    grid = rng.random((args.grid,) * 3) ** 3 * 50
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.repeat):
            path = os.path.join(folder, f"ours{k}")
            t0 = time.perf_counter()
            write_chgcar(path, grid, structure)
            ours.append(time.perf_counter() - t0)
            path = os.path.join(folder, f"pymatgen{k}")
            t0 = time.perf_counter()
            to_volumetric(grid, structure).write_file(path)
            theirs.append(time.perf_counter() - t0)
        a = Chgcar.from_file(os.path.join(folder, "ours0")).data["total"]
        b = Chgcar.from_file(os.path.join(folder, "pymatgen0")).data["total"]
    diff = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"grid {args.grid}^3, median of {args.repeat}")
    print(f"diffpy.crystalnet write_chgcar: {t_ours:.3f} s")
    print(f"pymatgen Chgcar.write_file:     {t_theirs:.3f} s")
    print(f"ratio (pymatgen / ours):        {t_theirs / t_ours:.1f}x")
    print(f"largest relative difference read back: {diff:.1e}")


if __name__ == "__main__":
    main()
