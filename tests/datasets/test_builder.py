"""Dataset builder: sources -> shards -> manifest -> torch dataset."""

import json

import h5py
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.datasets.builder import BuildSettings, build_dataset
from diffpy.crystalnet.datasets.manifest import finalize_dataset, load_manifest
from diffpy.crystalnet.datasets.shards import read_shard_meta, shard_paths
from diffpy.crystalnet.datasets.source_blocks import make_source
from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset, dataset_index
from diffpy.crystalnet.errors import CrystalNetInputError

GRID = 16


def _structures():
    nacl = Structure.from_spacegroup(
        "Fm-3m",
        Lattice.cubic(5.64),
        ["Na", "Cl"],
        [[0, 0, 0], [0.5, 0.5, 0.5]],
    )
    return {
        "NaCl.cif": nacl,
        "NaCl_super.cif": nacl * (2, 1, 1),  # a duplicate of NaCl
        "CsCl.cif": Structure(
            Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "CaF2.cif": Structure.from_spacegroup(
            "Fm-3m",
            Lattice.cubic(5.46),
            ["Ca", "F"],
            [[0, 0, 0], [0.25, 0.25, 0.25]],
        ),
        "ZnS.cif": Structure.from_spacegroup(
            "F-43m",
            Lattice.cubic(5.41),
            ["Zn", "S"],
            [[0, 0, 0], [0.25, 0.25, 0.25]],
        ),
        "Bi2Se3.cif": Structure.from_spacegroup(
            "R-3m",
            Lattice.hexagonal(4.14, 28.6),
            ["Bi", "Se", "Se"],
            [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2117]],
        ),
        "Mg_hcp.cif": Structure.from_spacegroup(  # hexagonal: filtered out
            "P6_3/mmc",
            Lattice.hexagonal(3.21, 5.21),
            ["Mg"],
            [[1 / 3, 2 / 3, 0.25]],
        ),
    }


@pytest.fixture(scope="module")
def cif_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifs")
    for name, structure in _structures().items():
        structure.to(filename=str(folder / name))
    (folder / "broken.cif").write_text("data_x\n_cell_length_a 5\n")
    return folder


def _settings(**kw):
    base = dict(n=100, grid_size=GRID, block_size=3, seed=7)
    base.update(kw)
    return BuildSettings(**base)


def _entries(folder):
    """(id, formula, split, cmed bytes) of every kept entry, in order."""
    out = []
    for shard in load_manifest(folder)["shards"]:
        with h5py.File(folder / shard["file"]) as h5:
            for i in shard["kept"]:
                out.append(
                    (
                        h5["id"].asstr()[i],
                        h5["formula"].asstr()[i],
                        h5["split"].asstr()[i],
                        h5["cmed"][i].tobytes(),
                        h5["pattern"][i].tobytes(),
                    )
                )
    return out


@pytest.fixture(scope="module")
def cif_dataset(cif_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "cif"
    settings = _settings()
    stats = build_dataset(
        [make_source(str(cif_folder), settings)], out, settings, progress=False
    )
    manifest = finalize_dataset(out)
    return out, stats, manifest


def test_cif_source_dedupes_filters_and_counts(cif_dataset):
    out, stats, manifest = cif_dataset
    formulas = sorted(e[1] for e in _entries(out))
    # NaCl kept once, Mg (hexagonal) dropped, broken CIF skipped
    assert formulas == ["Bi2Se3", "CaF2", "CsCl", "NaCl", "ZnS"]
    assert manifest["duplicates_dropped"] == 1
    assert manifest["counts"]["by_system"] == {"cubic": 4, "trigonal": 1}
    assert any("hexagonal" in k for k in manifest["skipped"])
    assert all(len(s["sha256"]) == 64 for s in manifest["shards"])
    assert manifest["versions"]["pymatgen"]


def test_entry_contents_are_consistent(cif_dataset):
    out, _, _ = cif_dataset
    data = CMEDDataset(out, split="all", points=False)
    for i in range(len(data)):
        entry = data.entry(i, ("pattern", "composition", "cmed", "lattice"))
        structure = data.structure(i)
        assert entry["pattern"].shape == (1024,)
        assert entry["pattern"].max() == pytest.approx(1.0)
        assert entry["composition"].sum() == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(entry["lattice"], structure.lattice.matrix)
        # the stored density integrates to the cell's electron count
        electrons = entry["cmed"].sum() * structure.volume / GRID**3
        total_z = sum(site.specie.Z for site in structure)
        assert electrons == pytest.approx(total_z, rel=0.02)


def test_no_formula_spacegroup_or_parent_shared_across_splits(tmp_path):
    settings = _settings(
        n=40, block_size=10, fractions={"val": 0.3, "test": 0.3}
    )
    out = tmp_path / "gen"
    build_dataset(
        [make_source("prototypes", settings)], out, settings, progress=False
    )
    finalize_dataset(out)
    split_of_group, keys = {}, set()
    for path in shard_paths(out):
        meta = read_shard_meta(path)
        for i in range(meta["count"]):
            key = (meta["formula"][i], meta["spacegroup"][i])
            group = meta["parent"][i]
            assert group, "decorated entries record their parent"
            assert split_of_group.setdefault(group, meta["split"][i]) == (
                meta["split"][i]
            )
            keys.add(key)
    assert len(set(split_of_group.values())) >= 2


def test_interrupted_build_resumes_to_the_same_dataset(cif_folder, tmp_path):
    settings = _settings()
    sources = [make_source(str(cif_folder), settings)]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    build_dataset(sources, whole, settings, progress=False)
    first = build_dataset(
        sources, parts, settings, progress=False, max_blocks=1
    )
    assert first["blocks"] == 1
    # a crash mid-write leaves only a temporary file, which is ignored
    (parts / "shard-000001.h5.tmp999").write_bytes(b"partial")
    second = build_dataset(sources, parts, settings, progress=False)
    assert second["blocks"] >= 1
    finalize_dataset(whole)
    finalize_dataset(parts)
    assert _entries(whole) == _entries(parts)


def test_resume_with_other_settings_is_refused(cif_folder, tmp_path):
    settings = _settings()
    sources = [make_source(str(cif_folder), settings)]
    build_dataset(sources, tmp_path, settings, progress=False, max_blocks=1)
    with pytest.raises(CrystalNetInputError, match="other settings"):
        build_dataset(sources, tmp_path, _settings(seed=8), progress=False)


def test_job_array_parts_give_the_single_job_dataset(cif_folder, tmp_path):
    settings = _settings(n=4)  # trimmed: finalize keeps the first 4 unique
    sources = [make_source(str(cif_folder), settings)]
    build_dataset(sources, tmp_path / "one", settings, progress=False)
    for k in range(2):
        build_dataset(
            sources, tmp_path / "arr", settings, shard=(k, 2), progress=False
        )
    assert finalize_dataset(tmp_path / "one")["entries"] == 4
    assert finalize_dataset(tmp_path / "arr")["entries"] == 4
    assert _entries(tmp_path / "one") == _entries(tmp_path / "arr")


def test_exclusion_list(cif_folder, tmp_path):
    settings = _settings(exclude=["NaCl|225", "CsCl|221"])
    out = tmp_path / "ex"
    build_dataset(
        [make_source(str(cif_folder), settings)], out, settings, progress=False
    )
    finalize_dataset(out)
    formulas = {e[1] for e in _entries(out)}
    assert formulas == {"Bi2Se3", "CaF2", "ZnS"}


def test_generated_build_is_deterministic_and_worker_independent(tmp_path):
    settings = _settings(n=8, block_size=4)
    for name, workers in (("a", 1), ("b", 1), ("c", 2)):
        sources = [make_source(s, settings) for s in ("prototypes", "random")]
        build_dataset(
            sources, tmp_path / name, settings, workers=workers, progress=False
        )
        finalize_dataset(tmp_path / name)
    a = _entries(tmp_path / "a")
    assert len(a) == 8
    assert a == _entries(tmp_path / "b") == _entries(tmp_path / "c")
    sources = {s for s in load_manifest(tmp_path / "a")["counts"]["by_source"]}
    assert sources == {"prototypes", "pyxtal"}


def test_torch_dataset_stratified_points(cif_dataset):
    torch = pytest.importorskip("torch")
    out, _, _ = cif_dataset
    data = CMEDDataset(out, split="all", strata=4, seed=3)
    item = data[0]
    assert item["points"].shape == (64, 3) and item["values"].shape == (64,)
    # one point in each of the 4^3 strata
    cells = np.floor(item["points"] * 4).astype(int)
    assert len({tuple(c) for c in cells}) == 64
    # targets are the stored grid values at those points
    grid = data.entry(0, ("cmed",))["cmed"]
    idx = np.rint(item["points"] * GRID).astype(int)
    np.testing.assert_array_equal(item["values"], grid[tuple(idx.T)])
    # draws depend on (seed, epoch, index) only
    again = CMEDDataset(out, split="all", strata=4, seed=3)
    np.testing.assert_array_equal(again[0]["points"], item["points"])
    again.set_epoch(1)
    assert not np.array_equal(again[0]["points"], item["points"])
    loader = torch.utils.data.DataLoader(data, batch_size=2)
    batch = next(iter(loader))
    assert batch["points"].shape == (2, 64, 3)
    assert batch["pattern"].shape == (2, 1024)
    assert len(dataset_index(out, "all")) == len(data)


def test_cli_build_info_show(cif_folder, tmp_path, capsys):
    out = tmp_path / "cli"
    args = [
        "dataset",
        "build",
        "--source",
        str(cif_folder),
        "--n",
        "10",
        "--out",
        str(out),
        "--grid",
        str(GRID),
        "--quiet",
    ]
    assert main(args) == 0
    assert "unique structures" in capsys.readouterr().out
    assert main(["dataset", "info", str(out), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["entries"] == 5
    png = tmp_path / "entry.png"
    assert main(["dataset", "show", str(out), "0", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    # never overwrite without --force; bad index and bad folder exit 2
    assert main(["dataset", "show", str(out), "0", "--out", str(png)]) == 2
    assert (
        main(
            [
                "dataset",
                "show",
                str(out),
                "99",
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
        == 2
    )
    assert main(["dataset", "info", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "manifest" in err and "Traceback" not in err
    assert (
        main(
            [
                "dataset",
                "build",
                "--source",
                "nonexistent_dir",
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )


def test_splits_do_not_depend_on_the_input_folder(cif_folder, tmp_path):
    import shutil

    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(cif_folder, moved)
    settings = _settings(fractions={"val": 0.4, "test": 0.4})
    splits = []
    for i, folder in enumerate((cif_folder, moved)):
        out = tmp_path / f"ds{i}"
        build_dataset(
            [make_source(str(folder), settings)], out, settings, progress=False
        )
        finalize_dataset(out)
        splits.append([(e[1], e[2]) for e in _entries(out)])
    assert splits[0] == splits[1]
    assert len({s for _, s in splits[0]}) > 1


def test_source_weight_scales_its_blocks(tmp_path):
    settings = _settings(n=100, block_size=8)
    sources = [make_source(s, settings) for s in ("prototypes", "random*0.25")]
    assert [s.weight for s in sources] == [1.0, 0.25]
    build_dataset(sources, tmp_path, settings, progress=False, max_blocks=2)
    records = [
        read_shard_meta(p)["attrs"]["records"] for p in shard_paths(tmp_path)
    ]
    assert records == [8, 2]
    with pytest.raises(CrystalNetInputError, match="weight"):
        make_source("random*1.5", settings)


def _records(folder):
    """Every stored record, in block then record order, and what is kept."""
    out = []
    for path in shard_paths(folder):
        with h5py.File(path) as h5:
            for i in range(int(h5.attrs["count"])):
                out.append(
                    (
                        path.name,
                        h5["id"].asstr()[i],
                        int(h5["seed"][i]),
                        h5["formula"].asstr()[i],
                        h5["lattice"][i].tobytes(),
                        h5["structure"].asstr()[i],
                        h5["cmed"][i].tobytes(),
                    )
                )
    kept = [(s["file"], s["kept"]) for s in load_manifest(folder)["shards"]]
    return out, kept


def test_killed_build_resumed_on_a_busier_machine_is_exact(
    cif_folder, tmp_path, monkeypatch
):
    import signal

    settings = _settings(n=8, block_size=3, grid_size=8, seed=1)
    sources = [make_source(s, settings) for s in (str(cif_folder), "random")]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    build_dataset(sources, whole, settings, progress=False)
    # killed while building the third block: two shards and a temporary file
    build_dataset(sources, parts, settings, progress=False, max_blocks=2)
    (parts / ".shard-000002.h5.killed.tmp").write_bytes(b"partial")
    # the resumed run gets far less CPU per second of work (a loaded or
    # slower machine): a CPU-time limit would expire 1000 times sooner
    real = signal.setitimer
    monkeypatch.setattr(
        signal, "setitimer", lambda which, s, *a: real(which, s / 1000, *a)
    )
    build_dataset(sources, parts, settings, progress=False)
    finalize_dataset(whole)
    finalize_dataset(parts)
    clean, resumed = _records(whole), _records(parts)
    assert sum(r[1].isdigit() for r in clean[0]) >= 3, "random crystals"
    assert resumed == clean


def test_job_array_part_resumes_beside_a_finished_part(cif_folder, tmp_path):
    # part k of n builds the blocks of local index k mod n, one per source:
    # with two sources, part 1's shards are 2, 3, 6, 7, ...
    settings = _settings(n=4, block_size=2, grid_size=8)
    sources = [make_source(str(cif_folder), settings)] * 2
    alone, beside = tmp_path / "alone", tmp_path / "beside"
    build_dataset(sources, alone, settings, shard=(0, 2), progress=False)
    build_dataset(sources, beside, settings, shard=(1, 2), progress=False)
    build_dataset(
        sources, beside, settings, shard=(0, 2), progress=False, max_blocks=1
    )
    build_dataset(sources, beside, settings, shard=(0, 2), progress=False)
    part0 = [p.name for p in shard_paths(alone)]
    assert part0 == ["shard-000000.h5", "shard-000001.h5", "shard-000004.h5"]
    for name in part0:
        assert (beside / name).exists(), name
        a, b = read_shard_meta(alone / name), read_shard_meta(beside / name)
        assert list(a["id"]) == list(b["id"])
