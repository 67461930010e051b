"""Checkpoints: safe save/load round trip and clean errors."""

import pickle

import numpy as np
import pytest
import torch

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.checkpoint import (
    default_model_path,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from diffpy.crystalnet.model.config import N_BINS, N_ELEMENTS, CrystalNetConfig
from diffpy.crystalnet.model.network import CrystalNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _inputs(b=3, p=25):
    gen = torch.Generator().manual_seed(11)
    pattern = torch.rand(b, N_BINS, generator=gen)
    composition = torch.rand(b, N_ELEMENTS, generator=gen)
    composition /= composition.sum(dim=1, keepdim=True)
    return pattern, composition, torch.rand(b, p, 3, generator=gen)


@pytest.fixture
def trained(tmp_path):
    """A tiny model after two Adam steps, with optimizer and scheduler."""
    torch.manual_seed(0)
    config = CrystalNetConfig.preset("tiny", fourier_seed=7, target_scale=0.3)
    model = CrystalNet(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=10, eta_min=1e-6
    )
    pattern, composition, points = _inputs()
    for _ in range(2):
        out = model(pattern, composition, points)
        loss = out["density"].abs().mean() + out["kl_xrd"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


def test_round_trip_gives_identical_outputs(trained, tmp_path):
    model, optimizer, scheduler = trained
    path = save_checkpoint(
        tmp_path / "m.pt",
        model,
        optimizer,
        scheduler,
        extra={"epoch": 2, "losses": [0.5, 0.25], "note": "test"},
    )
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp left
    # the file is plain data: the safe loader reads it
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["config"]["fourier_seed"] == 7
    loaded = load_model(path)
    assert isinstance(loaded, CrystalNet) and not loaded.training
    assert loaded.config == model.config
    assert torch.equal(loaded.positional.B, model.positional.B)
    pattern, composition, points = _inputs()
    model.eval()
    with torch.no_grad():
        for sample in (False, True):
            a = model(
                pattern, composition, points, sample=sample,
                generator=torch.Generator().manual_seed(4),
            )["density"]  # fmt: skip
            b = loaded(
                pattern, composition, points, sample=sample,
                generator=torch.Generator().manual_seed(4),
            )["density"]  # fmt: skip
            assert torch.equal(a, b)
    grid_a = model.predict_grid(pattern[0], composition[0], n=4, seed=2)
    grid_b = loaded.predict_grid(pattern[0], composition[0], n=4, seed=2)
    np.testing.assert_array_equal(grid_a, grid_b)


def test_optimizer_and_scheduler_resume(trained, tmp_path):
    model, optimizer, scheduler = trained
    path = save_checkpoint(tmp_path / "m.pt", model, optimizer, scheduler)
    payload = load_checkpoint(path)
    assert payload["extra"] is None
    model2 = load_model(path).train()
    optimizer2 = torch.optim.Adam(model2.parameters(), lr=1e-3)
    scheduler2 = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer2, T_0=10, eta_min=1e-6
    )
    optimizer2.load_state_dict(payload["optimizer"])
    scheduler2.load_state_dict(payload["scheduler"])
    assert scheduler2.last_epoch == scheduler.last_epoch == 2
    assert optimizer2.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    state = optimizer.state_dict()["state"]
    for key, value in optimizer2.state_dict()["state"].items():
        assert torch.equal(value["exp_avg"], state[key]["exp_avg"])


def test_corrupted_and_foreign_files_give_clean_errors(trained, tmp_path):
    model, _, _ = trained
    good = save_checkpoint(tmp_path / "good.pt", model)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 50)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": model.state_dict()}, foreign)
    unsafe = tmp_path / "unsafe.pt"
    with open(unsafe, "wb") as stream:  # a pickle that runs code on load
        pickle.dump(np.random.default_rng(0), stream)
    for path in (truncated, garbage, foreign, unsafe):
        with pytest.raises(CrystalNetInputError) as info:
            load_model(path)
        assert str(path) in str(info.value)
    with pytest.raises(CrystalNetInputError, match="not found"):
        load_model(tmp_path / "missing.pt")
    # weights that do not fit the stored config
    payload = load_checkpoint(good)
    payload["config"]["width"] = 48
    mismatched = tmp_path / "mismatched.pt"
    torch.save(payload, mismatched)
    with pytest.raises(CrystalNetInputError, match="do not fit"):
        load_model(mismatched)
    payload["config"]["colour"] = "blue"
    torch.save(payload, mismatched)
    with pytest.raises(CrystalNetInputError, match="unknown model config"):
        load_model(mismatched)


def test_no_shipped_model_is_reported():
    if default_model_path().is_file():
        pytest.skip("a default model is shipped")
    with pytest.raises(CrystalNetInputError, match="no model shipped yet"):
        load_model()


def test_save_refuses_non_plain_extra_and_overwrite(trained, tmp_path):
    model, _, _ = trained
    with pytest.raises(TypeError, match="numpy"):
        save_checkpoint(tmp_path / "a.pt", model, extra={"x": np.ones(3)})
    assert not any(tmp_path.iterdir())
    path = save_checkpoint(tmp_path / "a.pt", model)
    before = path.read_bytes()
    with pytest.raises(CrystalNetInputError, match="overwrite"):
        save_checkpoint(path, CrystalNet("tiny"), overwrite=False)
    assert path.read_bytes() == before
