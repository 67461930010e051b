"""Tests for structure sources (diffpy.crystalnet.datasets.sources)."""

import csv
import json

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.datasets.records import SourceStats
from diffpy.crystalnet.datasets.source_files import (
    from_cif,
    from_csv,
    from_json,
)
from diffpy.crystalnet.datasets.sources import (
    crystal_system,
    from_prototypes,
    read_source,
    select,
)
from diffpy.crystalnet.physics.lattice import CRYSTAL_SYSTEMS

FCC = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]


def nacl():
    shifted = [[x + 0.5, y, z] for x, y, z in FCC]
    return Structure(
        Lattice.cubic(5.64), ["Na"] * 4 + ["Cl"] * 4, FCC + shifted
    )


def zno():
    return Structure.from_spacegroup(
        "P6_3mc",
        Lattice.hexagonal(3.25, 5.21),
        ["Zn", "O"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
    )


def corundum():
    return Structure.from_spacegroup(
        "R-3c",
        Lattice.hexagonal(4.76, 12.99),
        ["Al", "O"],
        [[0, 0, 0.352], [0.306, 0, 0.25]],
    )


def test_crystal_system():
    assert crystal_system(nacl()) == "cubic"
    assert crystal_system(zno()) == "hexagonal"
    assert crystal_system(corundum()) == "trigonal"
    assert crystal_system(corundum().get_primitive_structure()) == "trigonal"


def test_cif_folder_recursive_with_bad_entries(tmp_path):
    (tmp_path / "sub").mkdir()
    CifWriter(nacl()).write_file(tmp_path / "a.cif")
    CifWriter(zno()).write_file(tmp_path / "sub" / "b.cif")
    (tmp_path / "sub" / "broken.cif").write_text("data_x\n_cell_length_a 4\n")
    (tmp_path / "notes.txt").write_text("not a cif")
    two = str(CifWriter(nacl())).replace("data_NaCl", "data_one") + str(
        CifWriter(corundum())
    ).replace("data_Al2O3", "data_two")
    (tmp_path / "two.cif").write_text(two)
    stats = SourceStats()
    records = list(from_cif(tmp_path, stats=stats))
    ids = [r.id for r in records]
    assert ids == ["a.cif", "sub/b.cif", "two.cif#one", "two.cif#two"]
    assert all(r.source == str(tmp_path) for r in records)
    assert stats.yielded == 4
    assert sum(stats.skipped.values()) == 1  # broken.cif, logged not raised
    assert [r.id for r in from_cif(tmp_path, recursive=False)][0] == "a.cif"
    assert len(list(from_cif(tmp_path / "a.cif"))) == 1
    with pytest.raises(CrystalNetInputError):
        from_cif(tmp_path / "missing")


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["material_id", "cif"])
        writer.writeheader()
        writer.writerows(rows)


def test_csv_source_keeps_ids_and_skips_bad_rows(tmp_path):
    path = tmp_path / "train.csv"
    write_csv(
        path,
        [
            {"material_id": "mp-1", "cif": str(CifWriter(nacl()))},
            {"material_id": "mp-2", "cif": "garbage"},
            {"material_id": "", "cif": str(CifWriter(zno()))},
            {"material_id": "mp-4", "cif": ""},
        ],
    )
    stats = SourceStats()
    records = list(from_csv(path, stats=stats))
    assert [r.id for r in records] == ["mp-1", "row2"]
    assert records[0].structure.composition.reduced_formula == "NaCl"
    assert stats.yielded == 2 and sum(stats.skipped.values()) == 2
    assert records[0].key == f"{path}:mp-1"
    with pytest.raises(CrystalNetInputError, match="column"):
        from_csv(path, cif_column="structure")


def test_csv_is_lazy(tmp_path):
    path = tmp_path / "big.csv"
    write_csv(
        path,
        [
            {"material_id": f"m{i}", "cif": str(CifWriter(nacl()))}
            for i in range(50)
        ],
    )
    stream = from_csv(path)
    first = next(stream)
    assert first.id == "m0"


def test_json_sources(tmp_path):
    single = tmp_path / "one.json"
    single.write_text(json.dumps(nacl().as_dict()))
    assert [r.id for r in from_json(single)] == ["0"]
    many = tmp_path / "many.json"
    many.write_text(
        json.dumps(
            [
                zno().as_dict(),
                {"structure": nacl().as_dict(), "material_id": "x-7"},
                {"lattice": "nonsense"},
            ]
        )
    )
    stats = SourceStats()
    records = list(from_json(many, stats=stats))
    assert [r.id for r in records] == ["0", "x-7"]
    assert stats.skipped and stats.yielded == 2
    lines = tmp_path / "set.jsonl"
    lines.write_text(
        json.dumps(nacl().as_dict())
        + "\n{broken\n\n"
        + json.dumps({"structure": zno().as_dict(), "id": "z"})
        + "\n"
    )
    stats = SourceStats()
    assert [r.id for r in read_source(lines, stats=stats)] == ["0", "z"]
    assert sum(stats.skipped.values()) == 1
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CrystalNetInputError, match="bad.json"):
        from_json(tmp_path / "bad.json")


def test_read_source_dispatch(tmp_path):
    CifWriter(nacl()).write_file(tmp_path / "a.cif")
    assert len(list(read_source(tmp_path))) == 1
    assert len(list(read_source(tmp_path / "a.cif"))) == 1
    with pytest.raises(CrystalNetInputError, match="no such"):
        read_source(tmp_path / "missing.csv")
    (tmp_path / "x.xyz").write_text("1\n\nH 0 0 0\n")
    with pytest.raises(CrystalNetInputError, match="unknown source"):
        read_source(tmp_path / "x.xyz")


def test_select_systems_and_size():
    from diffpy.crystalnet.datasets.records import StructureRecord

    records = [
        StructureRecord(nacl(), "t", "nacl"),
        StructureRecord(zno(), "t", "zno"),
        StructureRecord(corundum(), "t", "corundum"),
    ]
    stats = SourceStats()
    kept = [r.id for r in select(records, stats=stats)]
    assert kept == ["nacl", "corundum"]
    assert stats.skipped["crystal system hexagonal"] == 1
    assert [r.id for r in select(records, systems="hexagonal")] == ["zno"]
    assert len(list(select(records, systems=None))) == 3
    # corundum has 10 atoms in its primitive cell
    assert [r.id for r in select(records, max_atoms=8)] == ["nacl"]
    with pytest.raises(CrystalNetInputError, match="crystal system"):
        list(select(records, systems=["cubic", "hexagonl"]))
    disordered = nacl()
    disordered.replace(0, {"Na": 0.5, "K": 0.5})
    rec = StructureRecord(disordered, "t", "dis")
    assert list(select([rec])) == []


def test_prototype_library_from_pymatgen():
    stats = SourceStats()
    cubic = list(from_prototypes(systems="cubic", max_atoms=20, stats=stats))
    assert len(cubic) > 30
    assert all(r.source == "aflow" for r in cubic)
    assert "AB_cF8_225_a_b" in {r.id for r in cubic}  # rock salt
    assert all(crystal_system(r.structure) == "cubic" for r in cubic[:5])
    assert stats.yielded == len(cubic)
    total = sum(1 for _ in from_prototypes())
    assert total > len(cubic)
    assert set(CRYSTAL_SYSTEMS) >= {"cubic", "trigonal"}
