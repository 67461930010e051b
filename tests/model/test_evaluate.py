"""Evaluation protocol, baselines and reports."""

import json

import numpy as np
import pytest
import torch
from test_train import build_tiny_dataset

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.baselines import NearestPattern, train_mean_grid
from diffpy.crystalnet.model.checkpoint import (
    default_model_path,
    save_checkpoint,
)
from diffpy.crystalnet.model.evaluate import evaluate
from diffpy.crystalnet.model.grids import grid_at
from diffpy.crystalnet.model.metrics import (
    CUBE_ROTATIONS,
    apply_rotation,
    best_over_rotations,
    pearson,
    psnr,
    ssim3d,
)
from diffpy.crystalnet.model.network import CrystalNet
from diffpy.crystalnet.model.scoring import score_candidates


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: much faster than two on a shared 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build_tiny_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, CrystalNet("tiny").eval())
    return path


def test_vectorised_scores_equal_the_reference_metrics(rng):
    truth = rng.random((12, 12, 12)) ** 6 * 40
    rotated = apply_rotation(truth, CUBE_ROTATIONS[7])
    preds = np.stack(
        [
            0.5 * truth + rng.random(truth.shape),
            rotated + 0.3 * rng.random(truth.shape),
            rng.random(truth.shape),
        ]
    )
    out = score_candidates(preds, truth)
    ref_ssim = [best_over_rotations(p, truth, ssim3d)[0] for p in preds]
    ref_psnr = [best_over_rotations(p, truth, psnr)[0] for p in preds]
    assert out["ssim"] == pytest.approx(max(ref_ssim), abs=1e-6)
    assert out["psnr"] == pytest.approx(max(ref_psnr), abs=1e-9)
    assert out["sample"] == 1
    best = apply_rotation(preds[1], CUBE_ROTATIONS[out["rotation"]])
    assert ssim3d(best, truth) == pytest.approx(out["ssim"], abs=1e-6)
    assert out["pearson"] == pytest.approx(pearson(best, truth))
    single = score_candidates(preds[:1], truth, rotations=False)
    assert single["ssim"] == pytest.approx(ssim3d(preds[0], truth), abs=1e-6)


def test_grid_at_subsamples_exactly_and_resamples_otherwise(rng):
    grid = rng.random((16, 16, 16))
    np.testing.assert_array_equal(grid_at(grid, 8), grid[::2, ::2, ::2])
    assert grid_at(grid, 12).shape == (12, 12, 12)
    assert grid_at(grid, 12).mean() == pytest.approx(grid.mean())


def test_nearest_pattern_is_the_best_cosine(rng):
    train = rng.random((30, 64)) ** 4
    queries = train[[3, 17]] * 2.0 + 0.01 * rng.random((2, 64))
    index, sim = NearestPattern(train).query(queries, chunk=1)
    assert index.tolist() == [3, 17] and np.all(sim > 0.99)
    masks = np.zeros((2, 64))
    masks[:, :20] = 1
    index_m, _ = NearestPattern(train).query(train[[5, 9]], masks)
    a, b = train[:, :20], train[[5, 9], :20]
    cos = (b @ a.T) / np.outer(
        np.linalg.norm(b, axis=1), np.linalg.norm(a, axis=1)
    )
    assert index_m.tolist() == np.argmax(cos, axis=1).tolist()


def test_evaluate_writes_tables_with_baselines(data, checkpoint, tmp_path):
    out = tmp_path / "eval"
    result = evaluate(
        data, split="test", model=checkpoint, samples=2, grid=16,
        modes=("full", "none"), out=out, progress=False,
    )  # fmt: skip
    test = CMEDDataset(data, "test", points=False)
    assert result["count"] == len(test) >= 2
    record = result["records"][0]
    truth = test.entry(0, ("cmed",))["cmed"]
    zero = record["zeros"]
    assert zero["ssim"] == pytest.approx(
        ssim3d(np.zeros_like(truth), truth), abs=1e-6
    )
    assert zero["atoms"] == 0.0 and zero["pearson"] == 0.0
    assert record["uniform"]["pearson"] == 0.0
    assert set(record["model"]) == {"full", "none"}
    # the nearest baseline is a training crystal's density
    assert 0 < record["nearest"]["similarity"] <= 1.0 + 1e-6
    mean = train_mean_grid(CMEDDataset(data, "train", points=False), 16)
    ref = best_over_rotations(mean, truth, ssim3d)[0]
    assert record["train_mean"]["ssim"] == pytest.approx(ref, abs=1e-6)
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["summary"] == result["summary"]
    text = (out / "evaluation.md").read_text()
    for needle in (
        "Table 1", "Table 2", "cubic", "nearest train pattern",
        "train mean grid", "uniform (true mean)", "zeros",
        "CrystalNet, none", "atom recovery",
    ):  # fmt: skip
        assert needle in text
    systems = result["summary"]["by_system"]["full"]
    assert systems["all"]["n"] == len(test)
    with pytest.raises(CrystalNetInputError, match="force"):
        evaluate(data, model=checkpoint, grid=16, out=out, progress=False)


def test_evaluate_cli(data, checkpoint, tmp_path, capsys):
    args = [
        "evaluate", "--data", str(data), "--model", str(checkpoint),
        "--grid", "16", "--samples", "1", "--limit", "1", "--quiet",
        "--modes", "full,elements", "--out", str(tmp_path / "e"),
    ]  # fmt: skip
    assert main(args) == 0
    assert "CrystalNet, elements" in capsys.readouterr().out
    assert main(args) == 2  # outputs exist
    bad = ["evaluate", "--data", str(data), "--modes", "full,partial"]
    bad += ["--model", str(checkpoint), "--quiet"]
    assert main(bad) == 2
    assert "unknown composition modes" in capsys.readouterr().err
    if not default_model_path().is_file():
        assert main(["evaluate", "--data", str(data), "--quiet"]) == 2
        assert "no model shipped" in capsys.readouterr().err


def test_reference_dataset_supplies_the_baselines(data, checkpoint):
    """A separate evaluation set uses the training set's baselines."""
    result = evaluate(
        data, split="test", model=checkpoint, samples=1, grid=16,
        rotations=False, progress=False, limit=1, reference=data,
    )  # fmt: skip
    assert result["settings"]["reference"] == str(data)
    with pytest.raises(CrystalNetInputError):
        evaluate(
            data, split="test", model=checkpoint, samples=1, grid=16,
            progress=False, limit=1, reference=data / "no-such-dataset",
        )  # fmt: skip
