#!/usr/bin/env python
"""Build the shipped example: a simulated Cu K-alpha pattern of Zr3Sb4Pt3.

Zr3Pt3Sb4 has the Y3Au3Sb4 structure (cubic, I-43d, No. 220, cI40):
Zr on 12a (3/8, 0, 1/4), Pt on 12b (7/8, 0, 1/4), Sb on 16c (x, x, x) with
x about 0.083; Z = 4 (40 atoms in the conventional cell).  The lattice
parameter used here, 9.33 angstrom, is an estimate (isotypic Zr3Ni3Sb4 is
about 9.1 angstrom, RE3Cu3Sb4 9.5-9.7 angstrom; 20 angstrom^3 per atom); the
example is a realistic synthetic pattern, not a copy of a measurement.

The pattern: Cu K-alpha1 + K-alpha2 (ratio 0.5), 10-120 degrees 2-theta in
steps of 0.01 degrees, pseudo-Voigt peaks with lab-diffractometer Caglioti
widths and 120 nm crystallites, isotropic B of 0.5-0.8 angstrom^2, a smooth
Chebyshev background and Poisson noise with a fixed seed.

Writes ``examples/Zr3Sb4Pt3_CuKa.xye`` (2-theta, counts, sigma) with a
``# key = value`` header and ``examples/Zr3Sb4Pt3.cif`` (the true
structure).  Existing files are kept unless ``--force`` is given.

Usage::

    python scripts/make_example_pattern.py [--outdir examples] [--force]
"""

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from diffpy.crystalnet.physics.simulator import simulate_pattern
from diffpy.crystalnet.version import __version__

A = 9.33  # angstrom, estimate (see module docstring)
X_SB = 0.083
B_ISO = {"Zr": 0.6, "Pt": 0.5, "Sb": 0.7}
PROFILE = {
    "u": 0.004,
    "v": -0.002,
    "w": 0.0015,
    "crystallite_size": 120.0,
    "microstrain": 3e-4,
    "kalpha2": True,
    "background": (260.0, -110.0, 45.0, -12.0),
    "noise": "poisson",
    "seed": 20261121,
    "intensity_max": 25000.0,
    "step": 0.01,
}


def build_structure():
    """Zr3Pt3Sb4 (Y3Au3Sb4 type) with checked Wyckoff multiplicities."""
    structure = Structure.from_spacegroup(
        "I-43d",
        Lattice.cubic(A),
        ["Zr", "Pt", "Sb"],
        [[3 / 8, 0, 1 / 4], [7 / 8, 0, 1 / 4], [X_SB, X_SB, X_SB]],
    )
    counts = structure.composition.get_el_amt_dict()
    expected = {"Zr": 12, "Pt": 12, "Sb": 16}
    if {k: int(v) for k, v in counts.items()} != expected:
        raise RuntimeError(f"wrong multiplicities {counts}, want {expected}")
    sga = SpacegroupAnalyzer(structure, symprec=1e-3)
    if sga.get_space_group_number() != 220:
        raise RuntimeError(f"space group {sga.get_space_group_symbol()}")
    sym = sga.get_symmetrized_structure()
    wyckoff = {
        sites[0].specie.symbol: w
        for sites, w in zip(sym.equivalent_sites, sym.wyckoff_symbols)
    }
    # 12a and 12b are exchanged by the Euclidean normalizer of I-43d, so
    # only the pair (not which is which) is a property of the structure
    if sorted(wyckoff.values()) != ["12a", "12b", "16c"]:
        raise RuntimeError(f"unexpected Wyckoff positions {wyckoff}")
    return structure


def _write_atomic(path, text, force):
    path = Path(path)
    if path.exists() and not force:
        raise SystemExit(f"{path} exists; use --force to overwrite")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default="examples")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    structure = build_structure()
    pattern = simulate_pattern(
        structure,
        "CuKa",
        (10, 120),
        profile=PROFILE,
        b_factors=B_ISO,
    )
    header = [
        "# wavelength = 1.54056",
        "# radiation = CuKa1+Ka2",
        "# kalpha2_ratio = 0.5",
        "# composition = Zr3Sb4Pt3",
        "# spacegroup = I-43d (220)",
        f"# source = simulated by diffpy.crystalnet {__version__} "
        "(scripts/make_example_pattern.py)",
        f"# lattice_a = {A}",
        "# profile = pseudo-Voigt TCH; Caglioti u=0.004 v=-0.002 w=0.0015 "
        "deg^2; size 120 nm; microstrain 3e-4",
        "# background = Chebyshev (260, -110, 45, -12) counts",
        f"# noise = Poisson, seed {PROFILE['seed']}",
        "# columns = 2theta_deg counts sigma",
    ]
    body = "\n".join(
        f"{x:.2f} {y:.0f} {s:.2f}"
        for x, y, s in zip(pattern.x, pattern.intensity, pattern.sigma)
    )
    _write_atomic(
        outdir / "Zr3Sb4Pt3_CuKa.xye",
        "\n".join(header) + "\n" + body + "\n",
        args.force,
    )
    cif = str(CifWriter(structure, symprec=1e-3))
    _write_atomic(outdir / "Zr3Sb4Pt3.cif", cif, args.force)
    i = int(np.argmax(pattern.intensity))
    print(
        f"wrote {outdir}/Zr3Sb4Pt3_CuKa.xye ({len(pattern.x)} points, "
        f"strongest at {pattern.x[i]:.2f} deg, max {pattern.intensity[i]:.0f}"
        f" counts) and {outdir}/Zr3Sb4Pt3.cif ({len(structure)} atoms)"
    )


if __name__ == "__main__":
    main()
