"""Tests for deduplication and leak-free splits
(diffpy.crystalnet.datasets.splits)."""

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.datasets.records import SourceStats, StructureRecord
from diffpy.crystalnet.datasets.splits import (
    assign_split,
    check_splits,
    dedupe,
    dedupe_key,
    load_exclusions,
    split_records,
)

ROCKSALT = ["Na", "K", "Rb", "Li", "Mg", "Ca", "Sr", "Ba"]
ANIONS = {
    "Na": "Cl",
    "K": "Cl",
    "Rb": "Br",
    "Li": "F",
    "Mg": "O",
    "Ca": "O",
    "Sr": "S",
    "Ba": "Se",
}


FCC = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]


def rocksalt(a, b, size=5.0):
    shifted = [[x + 0.5, y, z] for x, y, z in FCC]
    return Structure(Lattice.cubic(size), [a] * 4 + [b] * 4, FCC + shifted)


def cscl(a, b, size=3.5):
    return Structure(Lattice.cubic(size), [a, b], [[0, 0, 0], [0.5] * 3])


def records():
    out = []
    # real structures, each also a parent of decorations
    for i, a in enumerate(ROCKSALT):
        out.append(StructureRecord(rocksalt(a, ANIONS[a]), "real", f"r{i}"))
    # a duplicate of r0 (same formula and space group, other cell size)
    out.append(StructureRecord(rocksalt("Na", "Cl", 5.5), "real", "dup"))
    # decorations of several parents, in CsCl and rock-salt forms
    for i, a in enumerate(ROCKSALT):
        for j, b in enumerate(["Cl", "Br", "I"]):
            parent = f"real:r{i}"
            out.append(
                StructureRecord(cscl(a, b), "decorate", f"{i}-{j}", parent)
            )
    return out


def test_dedupe_key_and_keep_first():
    assert dedupe_key(rocksalt("Na", "Cl")) == "NaCl|225"
    assert dedupe_key(cscl("Cs", "Cl")) == "CsCl|221"
    stats = SourceStats()
    kept = list(dedupe(records(), stats=stats))
    ids = [r.id for _, r in kept]
    assert "r0" in ids and "dup" not in ids
    keys = [k for k, _ in kept]
    assert len(keys) == len(set(keys))
    assert stats.skipped["duplicate formula and space group"] >= 1


def test_assign_split_is_stable_and_fractional():
    groups = [f"g{i}" for i in range(4000)]
    splits = [
        assign_split(g, {"val": 0.1, "test": 0.2}, seed=1) for g in groups
    ]
    assert splits == [
        assign_split(g, {"val": 0.1, "test": 0.2}, seed=1) for g in groups
    ]
    assert abs(splits.count("test") / 4000 - 0.2) < 0.03
    assert abs(splits.count("val") / 4000 - 0.1) < 0.03
    other = [
        assign_split(g, {"val": 0.1, "test": 0.2}, seed=2) for g in groups
    ]
    assert other != splits
    with pytest.raises(CrystalNetInputError):
        assign_split("g", {"val": 0.7, "test": 0.5})
    with pytest.raises(CrystalNetInputError):
        assign_split("g", {"valid": 0.1})


def test_split_records_no_leaks_and_order_independent():
    fractions = {"val": 0.3, "test": 0.3}
    assigned = list(split_records(records(), fractions, seed=3))
    assert check_splits(assigned) == []
    assert {a.split for a in assigned} == {"train", "val", "test"}
    # decorations share the split of their parent structure
    by_key = {a.record.key: a.split for a in assigned}
    for a in assigned:
        if a.record.parent:
            assert a.split == by_key[a.record.parent]
    # the same record gets the same split when the stream is reordered
    reordered = list(split_records(records()[::-1], fractions, seed=3))
    again = {a.record.key: a.split for a in reordered}
    for key, split in by_key.items():
        if key in again:
            assert again[key] == split


def test_check_splits_detects_leaks():
    assigned = list(split_records(records(), {"val": 0.3, "test": 0.3}))
    victim = next(a for a in assigned if a.record.parent)
    victim.split = "test" if victim.split != "test" else "train"
    assert any("group" in p for p in check_splits(assigned))


def test_exclusion_list(tmp_path):
    keys = tmp_path / "held_out.txt"
    keys.write_text("# held-out test set\nKCl|225\n Ca2O2 | 225 \n\nreal:r6\n")
    CifWriter(rocksalt("Ba", "Se")).write_file(tmp_path / "BaSe.cif")
    exclude = load_exclusions([keys, tmp_path / "BaSe.cif"])
    assert exclude == {"KCl|225", "CaO|225", "real:r6", "BaSe|225"}
    stats = SourceStats()
    assigned = list(split_records(records(), exclude=exclude, stats=stats))
    assert check_splits(assigned, exclude) == []
    present = {a.key for a in assigned}
    assert not present & {"KCl|225", "CaO|225", "BaSe|225", "SrS|225"}
    assert all(a.record.parent != "real:r6" for a in assigned)
    assert stats.skipped["excluded"] == 4 + 3  # 4 keys, r6's 3 decorations
    bad = tmp_path / "bad.txt"
    bad.write_text("NaCl|cubic\n")
    with pytest.raises(CrystalNetInputError, match="line 1"):
        load_exclusions(bad)
    bad.write_text("NaXx|225\n")
    with pytest.raises(CrystalNetInputError):
        load_exclusions(bad)
    with pytest.raises(CrystalNetInputError):
        load_exclusions(tmp_path / "missing.txt")
