#!/usr/bin/env python
"""Write the space-group prior of :mod:`diffpy.crystalnet.index.space_groups`.

Counts the space groups of the MP-20 structures (the ``spacegroup.number``
column of the CDVAE-format tables, all three splits: a sample of the
inorganic crystals in the Materials Project) and writes them as
``src/diffpy/crystalnet/index/space_group_prior.py``.  Only the counts are
written, never the structures.

Usage::

    python scripts/space_group_prior.py ../shared/data/structures/mp20_dev
"""

import argparse
import csv
from collections import Counter
from pathlib import Path

OUT = (
    Path(__file__).resolve().parents[1]
    / "src/diffpy/crystalnet/index/space_group_prior.py"
)

HEAD = '''"""How often each space group occurs among inorganic crystals.

Counts of the space groups of the {n} MP-20 structures (Materials Project,
the CDVAE train, validation and test tables), written by
``scripts/space_group_prior.py``; :mod:`~diffpy.crystalnet.index.space_groups`
adds one to every group (so that unseen groups stay possible) and uses the
counts as the prior of its ranking.  Internal to
:mod:`diffpy.crystalnet.index`.
"""

__all__ = []

#: space-group number -> structures (only the groups seen)
COUNTS = {{
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of train/val/test.csv")
    args = parser.parse_args()
    counts = Counter()
    for name in ("train", "val", "test"):
        with open(Path(args.folder) / f"{name}.csv") as fh:
            for row in csv.DictReader(fh):
                counts[int(row["spacegroup.number"])] += 1
    n = sum(counts.values())
    lines = [HEAD.format(n=n)]
    for number in sorted(counts):
        lines.append(f"    {number}: {counts[number]},\n")
    lines.append("}\n\n\n# End of file\n")
    OUT.write_text("".join(lines))
    print(f"{len(counts)} space groups, {n} structures -> {OUT}")


if __name__ == "__main__":
    main()
