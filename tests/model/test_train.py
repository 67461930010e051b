"""Training: loss goes down, exact resume, DDP code path, run folders."""

import csv
import socket

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.datasets.builder import BuildSettings, build_dataset
from diffpy.crystalnet.datasets.manifest import finalize_dataset
from diffpy.crystalnet.datasets.source_blocks import make_source
from diffpy.crystalnet.datasets.torch_dataset import dataset_index
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.checkpoint import load_checkpoint, load_model
from diffpy.crystalnet.model.train import sgdr_cycle, train


def _structures():
    def rocksalt(a, b, x):
        return Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(x), [a, b], [[0, 0, 0], [0.5] * 3]
        )

    def cscl(a, b, x):
        return Structure(Lattice.cubic(x), [a, b], [[0, 0, 0], [0.5] * 3])

    def zincblende(a, b, x):
        return Structure.from_spacegroup(
            "F-43m", Lattice.cubic(x), [a, b], [[0, 0, 0], [0.25] * 3]
        )

    def fcc(a, x):
        return Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(x), [a], [[0, 0, 0]]
        )

    return {
        "NaCl": rocksalt("Na", "Cl", 5.64),
        "KCl": rocksalt("K", "Cl", 6.29),
        "MgO": rocksalt("Mg", "O", 4.21),
        "LiF": rocksalt("Li", "F", 4.03),
        "CsCl": cscl("Cs", "Cl", 4.12),
        "CsBr": cscl("Cs", "Br", 4.29),
        "Fe": cscl("Fe", "Fe", 2.87),
        "ZnS": zincblende("Zn", "S", 5.41),
        "GaAs": zincblende("Ga", "As", 5.65),
        "Cu": fcc("Cu", 3.61),
        "Al": fcc("Al", 4.05),
        "CaF2": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.46), ["Ca", "F"],
            [[0, 0, 0], [0.25] * 3],
        ),
        "SrTiO3": Structure.from_spacegroup(
            "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"],
            [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]],
        ),
        "Bi2Se3": Structure.from_spacegroup(
            "R-3m", Lattice.hexagonal(4.14, 28.6), ["Bi", "Se", "Se"],
            [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2117]],
        ),
    }  # fmt: skip


def build_tiny_dataset(folder):
    """14 simple crystals on a 16-grid, at least 7 train, 2 val, 2 test.

    Splits hash the source path (a temporary folder), so seeds are tried
    until every split has enough crystals.
    """
    cifs = folder / "cifs"
    cifs.mkdir(parents=True)
    for name, structure in _structures().items():
        structure.to(filename=str(cifs / f"{name}.cif"))
    for seed in range(50):
        out = folder / f"data{seed}"
        settings = BuildSettings(
            n=14, grid_size=16, block_size=20, seed=seed,
            fractions={"val": 0.2, "test": 0.2},
        )  # fmt: skip
        build_dataset(
            [make_source(str(cifs), settings)], out, settings,
            progress=False,
        )  # fmt: skip
        finalize_dataset(out)
        sizes = [len(dataset_index(out, s)) for s in ("train", "val", "test")]
        if sizes[0] >= 7 and min(sizes[1:]) >= 2:
            return out
    raise AssertionError("no seed gave usable splits")  # pragma: no cover


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build_tiny_dataset(tmp_path_factory.mktemp("tiny"))


FAST = dict(
    batch=4, points=64, val_grid=16, val_crystals=2, val_samples=1,
    bn_batches=1, threads=1, progress=False, log_every=1,
)  # fmt: skip


def _log(run):
    with open(run / "log.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def test_loss_decreases(data, tmp_path):
    run = tmp_path / "run"
    n_train = len(dataset_index(data, "train"))
    opts = {**FAST, "batch": n_train, "points": 125}  # all crystals
    result = train(
        data, run, preset="tiny", steps=60, lr=3e-3, restarts=1,
        augment=False, composition_modes={"full": 1.0}, val_every=60,
        **opts,
    )  # fmt: skip
    assert result["step"] == 60 and result["stopped"] == "done"
    recon = [float(r["reconstruction"]) for r in _log(run)]
    assert len(recon) == 60
    assert np.mean(recon[-10:]) < 0.85 * np.mean(recon[:5])
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    model = load_model(run / "best.pt")
    assert model.config.target == "log1p"  # mse-log1p is the default
    lrs = [float(r["lr"]) for r in _log(run)]
    assert max(lrs) == pytest.approx(3e-3) and min(lrs) < 1e-5


def _state(path):
    return load_checkpoint(path)


def test_kill_and_resume_continues_exactly(data, tmp_path):
    opts = dict(preset="tiny", steps=7, val_every=3, **FAST)
    whole = train(data, tmp_path / "whole", **opts)
    part = train(data, tmp_path / "parts", stop_after=4, **opts)
    assert part["stopped"] == "stop_after" and part["step"] == 4
    # the rest with a loader worker process: the draws do not change
    rest = train(data, tmp_path / "parts", resume=True, steps=7, workers=1)
    assert rest["step"] == whole["step"] == 7
    a = _state(tmp_path / "whole" / "last.pt")
    b = _state(tmp_path / "parts" / "last.pt")
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=0, atol=1e-6)
    assert a["extra"]["epoch"] == b["extra"]["epoch"]
    keys = ("step", "lr", "loss", "kl_xrd")
    rows_a = [[r[k] for k in keys] for r in _log(tmp_path / "whole")]
    rows_b = [[r[k] for k in keys] for r in _log(tmp_path / "parts")]
    assert len(rows_a) == len(rows_b) == 7
    np.testing.assert_allclose(
        np.array(rows_b, float), np.array(rows_a, float), rtol=1e-5
    )


def test_ddp_code_path_matches_single_process(data, tmp_path, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    opts = dict(preset="tiny", steps=3, val_every=3, **FAST)
    single = train(data, tmp_path / "single", **opts)
    for key, value in dict(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0",
        WORLD_SIZE="1", LOCAL_RANK="0",
    ).items():  # fmt: skip
        monkeypatch.setenv(key, value)
    ddp = train(data, tmp_path / "ddp", distributed=True, **opts)
    assert not torch.distributed.is_initialized()  # cleaned up
    assert single["step"] == ddp["step"] == 3
    a = _state(tmp_path / "single" / "last.pt")["model"]
    b = _state(tmp_path / "ddp" / "last.pt")["model"]
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=1e-5, atol=1e-6)


def test_time_budget_stops_and_saves(data, tmp_path):
    result = train(
        data, tmp_path / "run", preset="tiny", steps=1000,
        max_minutes=1e-4, **FAST,
    )  # fmt: skip
    assert result["stopped"] == "time" and result["step"] < 1000
    state = _state(tmp_path / "run" / "last.pt")
    assert state["extra"]["step"] == result["step"]


def test_run_folder_rules_and_cli(data, tmp_path, capsys):
    run = tmp_path / "run"
    base = [
        "train", "--data", str(data), "--out", str(run), "--batch", "4",
        "--points", "27", "--threads", "1", "--quiet",
    ]  # fmt: skip
    args = base + ["--preset", "tiny", "--steps", "2"]
    assert main(args) == 0
    assert main(args) == 2
    assert "use resume" in capsys.readouterr().err
    assert main(base + ["--resume", "--steps", "3"]) == 0
    assert _state(run / "last.pt")["extra"]["step"] == 3
    # resuming with a different recipe is refused
    bad = ["train", "--data", str(data), "--out", str(run), "--resume"]
    assert main(bad + ["--loss", "l1"]) == 2
    assert "different settings" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert _state(run / "last.pt")["extra"]["step"] == 2
    with pytest.raises(CrystalNetInputError, match="no run to resume"):
        train(data, tmp_path / "nothing", resume=True)
    with pytest.raises(CrystalNetInputError, match="unknown loss"):
        train(data, tmp_path / "x", loss="huber")


def test_sgdr_cycles_fill_the_run():
    t0 = sgdr_cycle(1500, 4)
    assert t0 == 100  # the paper's 100, 200, 400, 800 epochs
    assert sgdr_cycle(10, 4) == 1
