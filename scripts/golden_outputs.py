"""Record and compare golden outputs of the package (refactoring guard).

``python scripts/golden_outputs.py record DIR`` runs, with fixed seeds,
``solve`` on the shipped example, a small ``dataset build`` + ``dataset
info``, ``evaluate`` on that dataset with the shipped model, and the
simulator on a few structures, and writes everything under DIR.
``python scripts/golden_outputs.py compare OLD NEW`` lists every file that
differs (JSON compared with timing fields removed, arrays compared exactly).
Used for the restructuring of issue 13: outputs before and after a move must
be identical.
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
CLI = [
    sys.executable,
    "-c",
    "import sys; from diffpy.crystalnet.cli import main; sys.exit(main())",
]
#: keys whose values are wall-clock measurements (exact key names, or keys
#: ending in ``_time``/``_seconds``)
VOLATILE = {
    "timings",
    "time",
    "seconds",
    "seconds_per_crystal",
    "elapsed",
    "created",
}


def _volatile(key):
    key = key.lower()
    return key in VOLATILE or key.endswith(("_time", "_seconds"))


#: the installed package's folder, wherever it is
PACKAGE_PATH = re.compile(
    r"\S*/src/diffpy/crystalnet/|\S*/site-packages/diffpy/crystalnet/"
)


def _run(args, out):
    result = subprocess.run(
        CLI + args, capture_output=True, text=True, cwd=out
    )
    label = "-".join(a for a in args[:2] if not a.startswith(("/", "-")))
    with open(out / f"{label}.log", "a") as log:
        log.write(result.stdout + result.stderr)
    if result.returncode:
        sys.exit(f"failed: {' '.join(args)}\n{result.stderr}")
    return result.stdout


def record(out):
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    example = HERE / "examples" / "Zr3Sb4Pt3_CuKa.xye"
    _run(
        [
            "solve",
            str(example),
            "--composition",
            "Zr3Sb4Pt3",
            "--out",
            str(out / "solve"),
            "--seed",
            "0",
        ],
        out,
    )
    data = out / "dataset"
    _run(
        [
            "dataset",
            "build",
            "--source",
            "prototypes",
            "--n",
            "12",
            "--grid",
            "16",
            "--out",
            str(data),
            "--seed",
            "3",
            "--quiet",
            "--val",
            "0.25",
            "--test",
            "0.25",
        ],
        out,
    )
    info = _run(["dataset", "info", str(data)], out)
    (out / "dataset-info.txt").write_text(info)
    _run(
        [
            "evaluate",
            "--data",
            str(data),
            "--split",
            "all",
            "--samples",
            "2",
            "--grid",
            "16",
            "--no-rotations",
            "--limit",
            "4",
            "--out",
            str(out / "evaluate"),
            "--quiet",
            "--modes",
            "full,none",
        ],
        out,
    )
    from pymatgen.core import Lattice, Structure

    from diffpy.crystalnet import simulate_pattern

    structures = {
        "NaCl": Structure.from_spacegroup(
            "Fm-3m",
            Lattice.cubic(5.64),
            ["Na", "Cl"],
            [[0, 0, 0], [0.5, 0.5, 0.5]],
        ),
        "ZnO": Structure.from_spacegroup(
            "P6_3mc",
            Lattice.hexagonal(3.25, 5.2),
            ["Zn", "O"],
            [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
        ),
        "TiO2": Structure.from_spacegroup(
            "P4_2/mnm",
            Lattice.tetragonal(4.594, 2.959),
            ["Ti", "O"],
            [[0, 0, 0], [0.305, 0.305, 0]],
        ),
    }
    for name, structure in structures.items():
        for wavelength in ("CuKa", "MoKa1"):
            pattern = simulate_pattern(structure, wavelength=wavelength)
            np.savez(
                out / f"sim-{name}-{wavelength}.npz",
                x=np.asarray(pattern.x),
                y=np.asarray(pattern.y),
            )
    print(f"golden outputs in {out}")


def _normalise(text, root):
    """Paths made comparable: the recording folder and the package's."""
    return PACKAGE_PATH.sub("<package>/", text.replace(str(root), "<root>"))


def _strip(value, root):
    if isinstance(value, dict):
        return {
            k: _strip(v, root) for k, v in value.items() if not _volatile(k)
        }
    if isinstance(value, list):
        return [_strip(v, root) for v in value]
    if isinstance(value, str):
        return _normalise(value, root)
    return value


def compare(old, new):
    old, new = Path(old).resolve(), Path(new).resolve()
    names = sorted(
        {p.relative_to(old) for p in old.rglob("*") if p.is_file()}
        | {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    )
    differ = 0
    for name in names:
        a, b = old / name, new / name
        if not a.exists() or not b.exists():
            print(f"only in one: {name}")
            differ += 1
            continue
        if name.suffix == ".log" or name.suffix == ".png":
            continue
        if name.suffix == ".json":
            same = _strip(json.loads(a.read_text()), old) == _strip(
                json.loads(b.read_text()), new
            )
        elif name.suffix == ".npz":
            za, zb = np.load(a), np.load(b)
            same = all(np.array_equal(za[k], zb[k]) for k in za.files)
        elif name.suffix in (".txt", ".md", ".cif", ".json"):
            same = _normalise(a.read_text(), old) == _normalise(
                b.read_text(), new
            )
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            print(f"differs: {name}")
            differ += 1
    print(f"{len(names)} files, {differ} differ (logs and PNGs skipped)")
    return differ


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("record").add_argument("out")
    cmp = sub.add_parser("compare")
    cmp.add_argument("old")
    cmp.add_argument("new")
    args = parser.parse_args()
    if args.command == "record":
        record(args.out)
    else:
        sys.exit(1 if compare(args.old, args.new) else 0)


if __name__ == "__main__":
    main()
