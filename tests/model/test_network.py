"""The CrystalNet network and its losses (tiny preset, synthetic data)."""

import numpy as np
import pytest
import torch

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.config import N_BINS, N_ELEMENTS, CrystalNetConfig
from diffpy.crystalnet.model.losses import (
    TargetTransform,
    crystalnet_loss,
    gaussian_kl,
    reconstruction_loss,
)
from diffpy.crystalnet.model.network import CrystalNet, grid_points

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_batch(b, p=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    pattern = torch.rand(b, N_BINS, generator=gen)
    pattern = pattern / pattern.amax(dim=1, keepdim=True)
    composition = torch.zeros(b, N_ELEMENTS)
    for i in range(b):
        z = torch.randint(0, N_ELEMENTS, (2,), generator=gen)
        composition[i, z] += 0.5
    points = torch.rand(b, p, 3, generator=gen)
    return pattern, composition, points


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return CrystalNet("tiny")


def test_presets_sizes_and_layout():
    counts = {
        name: CrystalNet(name).num_parameters()
        for name in ("tiny", "cpu", "paper")
    }
    assert counts["tiny"] < 200_000
    assert counts["tiny"] < counts["cpu"] < counts["paper"]
    paper = CrystalNet("paper")
    # 16 regressor layers of 512, P re-concatenated before layers 4, 8, 12
    assert len(paper.regressor.layers) == 16
    assert paper.regressor.skips == [4, 8, 12]
    assert paper.regressor.layers[4][0].in_features == 1024
    assert paper.positional.B.shape == (128, 3)
    # the FiLM MLPs: 1024 -> 1024 -> 1024 -> 1024 -> 512
    linears = [m for m in paper.film_gamma if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [1024, 1024, 1024, 512]
    # the Fourier matrix is a fixed buffer, not a parameter
    names = [n for n, _ in paper.named_parameters()]
    assert not any(n.endswith(".B") for n in names)
    assert "positional.B" in paper.state_dict()


def test_fourier_matrix_follows_seed_and_sigma():
    a = CrystalNet(CrystalNetConfig.preset("tiny", fourier_seed=3))
    b = CrystalNet(CrystalNetConfig.preset("tiny", fourier_seed=3))
    c = CrystalNet(CrystalNetConfig.preset("tiny", fourier_seed=4))
    assert torch.equal(a.positional.B, b.positional.B)
    assert not torch.equal(a.positional.B, c.positional.B)
    big = CrystalNet(CrystalNetConfig.preset("paper"))
    assert 2.7 < big.positional.B.std().item() < 3.3


def test_shapes(tiny):
    pattern, composition, points = make_batch(3, p=17)
    out = tiny(pattern, composition, points)
    assert out["density"].shape == (3, 17)
    assert out["kl_xrd"].shape == () and out["kl_formula"].shape == ()
    enc = out["encoding"]
    latent, width = tiny.config.latent_dim, tiny.config.width
    assert enc.mu_xrd.shape == enc.logvar_xrd.shape == (3, latent)
    assert enc.mu_formula.shape == (3, latent)
    assert enc.z.shape == (3, 2 * latent)
    assert enc.film.gamma.shape == enc.film.beta.shape == (3, width)


def test_film_computed_once_per_crystal(tiny):
    pattern, composition, points = make_batch(4, p=30)
    tiny.eval()
    calls = []
    hook = tiny.film_gamma.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        enc = tiny.encode(pattern, composition, sample=False)
        assert len(calls) == 1
        whole = tiny.query(enc.film, points)
        parts = torch.cat(
            [
                tiny.query(enc.film, points[:, i : i + 7])
                for i in range(0, 30, 7)
            ],
            dim=1,
        )
        shared = tiny.query(enc.film, points[0])
        per_crystal = tiny.query(enc.film, points[0].expand(4, -1, -1))
    hook.remove()
    assert len(calls) == 1  # querying never re-runs the fusion MLPs
    torch.testing.assert_close(parts, whole)
    torch.testing.assert_close(shared, per_crystal)
    # different crystals give different fields at the same points
    assert not torch.allclose(shared[0], shared[1])


def test_gradient_reaches_every_parameter(tiny):
    pattern, composition, points = make_batch(4)
    target = torch.rand(4, points.shape[1])
    terms = crystalnet_loss(tiny(pattern, composition, points), target)
    terms["loss"].backward()
    for name, param in tiny.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_reparameterisation_is_seeded(tiny):
    pattern, composition, _ = make_batch(3)
    tiny.eval()

    def z(seed):
        gen = torch.Generator().manual_seed(seed)
        return tiny.encode(pattern, composition, generator=gen).z

    with torch.no_grad():
        torch.testing.assert_close(z(5), z(5), rtol=0, atol=0)
        assert not torch.allclose(z(5), z(6))
        mean = tiny.encode(pattern, composition, sample=False)
        mu = torch.cat([mean.mu_xrd, mean.mu_formula], dim=1)
        assert torch.equal(mean.z, mu)
        # z - mu is exactly sigma * eps for the seeded eps
        enc = tiny.encode(
            pattern, composition, generator=torch.Generator().manual_seed(9)
        )
        logvar = torch.cat([enc.logvar_xrd, enc.logvar_formula], dim=1)
        eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(9))
        torch.testing.assert_close(enc.z, mu + torch.exp(0.5 * logvar) * eps)


def test_predict_grid_seeded_and_consistent(tiny):
    pattern, composition, _ = make_batch(1)
    tiny.train()
    a = tiny.predict_grid(
        pattern[0].numpy(), composition[0].numpy(), n=6, samples=3, seed=1
    )
    assert tiny.training  # mode restored
    b = tiny.predict_grid(
        pattern, composition, n=6, samples=3, seed=1, chunk=5
    )
    c = tiny.predict_grid(pattern, composition, n=6, samples=3, seed=2)
    assert a.shape == (3, 6, 6, 6) and a.dtype == np.float32
    assert (a >= 0).all()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # chunking
    assert not np.allclose(a, c)
    assert not np.allclose(a[0], a[1])  # samples differ from each other
    mean = tiny.predict_grid(pattern, composition, n=6, sample=False)
    assert mean.shape == (1, 6, 6, 6)


def test_predict_grid_convention_and_units(tiny):
    """grid[i, j, k] is the field at (i/n, j/n, k/n), in e/A^3."""
    pattern, composition, _ = make_batch(1)
    n = 5
    grid = tiny.predict_grid(pattern, composition, n=n, sample=False)[0]
    tiny.eval()
    ijk = torch.tensor([[0, 0, 0], [1, 2, 3], [4, 0, 2], [3, 4, 1]])
    with torch.no_grad():
        enc = tiny.encode(pattern, composition, sample=False)
        t = tiny.query(enc.film, ijk.float() / n)
    rho = tiny.target_transform().inverse(t).clamp_min(0)[0].numpy()
    expected = grid[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    np.testing.assert_allclose(expected, rho, rtol=1e-5, atol=1e-6)
    pts = grid_points(n)
    assert torch.equal(pts[1 * 25 + 2 * 5 + 3], torch.tensor([0.2, 0.4, 0.6]))


def test_mask_channel(tiny):
    pattern, composition, _ = make_batch(2)
    tiny.eval()
    mask = torch.ones(2, N_BINS, dtype=torch.bool)
    mask[:, 300:] = False
    junk = pattern.clone()
    junk[:, 300:] = 7.0  # values in unmeasured bins are ignored
    with torch.no_grad():
        full = tiny.encode(pattern, composition, sample=False).z
        cut = tiny.encode(pattern, composition, mask=mask, sample=False).z
        cut_junk = tiny.encode(junk, composition, mask=mask, sample=False).z
        zeroed = pattern.clone()
        zeroed[:, 300:] = 0
        zero_no_mask = tiny.encode(zeroed, composition, sample=False).z
    torch.testing.assert_close(cut, cut_junk)
    assert not torch.allclose(cut, full)
    # the mask channel tells "not measured" from "measured zero"
    assert not torch.allclose(cut, zero_no_mask)
    one = CrystalNet(CrystalNetConfig.preset("tiny", mask_channel=False))
    assert one.xrd_mu.stem[0].in_channels == 1
    assert tiny.xrd_mu.stem[0].in_channels == 2


def test_bad_input_is_reported(tiny):
    pattern, composition, points = make_batch(2)
    with pytest.raises(CrystalNetInputError, match="pattern"):
        tiny.encode(pattern[:, :100], composition)
    with pytest.raises(CrystalNetInputError, match="composition"):
        tiny.encode(pattern, composition[:1])
    with pytest.raises(CrystalNetInputError, match="points"):
        tiny(pattern, composition, points[..., :2])
    bad = pattern[0].numpy().copy()
    bad[3] = np.nan
    with pytest.raises(CrystalNetInputError, match="NaN"):
        tiny.predict_grid(bad, composition[0].numpy(), n=3)
    with pytest.raises(CrystalNetInputError, match="n"):
        tiny.predict_grid(pattern[0], composition[0], n=0)
    tiny.train()
    with pytest.raises(CrystalNetInputError, match="at least 2 crystals"):
        tiny(pattern[:1], composition[:1], points[:1])
    with pytest.raises(CrystalNetInputError, match="preset"):
        CrystalNetConfig.preset("huge")
    with pytest.raises(CrystalNetInputError, match="target"):
        CrystalNetConfig(target="sqrt")
    with pytest.raises(CrystalNetInputError, match="width"):
        CrystalNetConfig(width=0)


def test_target_transform_and_losses():
    rho = torch.tensor([0.0, 0.5, 3.0, 250.0])
    log = TargetTransform("log1p", 0.5)
    torch.testing.assert_close(log(rho), torch.log1p(rho / 0.5))
    torch.testing.assert_close(log.inverse(log(rho)), rho)
    assert torch.equal(TargetTransform("identity")(rho), rho)
    with pytest.raises(CrystalNetInputError):
        TargetTransform("log1p", -1)
    # KL against torch.distributions
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
        torch.distributions.Normal(0.0, 1.0),
    ).mean()
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    assert gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)) == 0
    pred, target = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])
    assert reconstruction_loss(pred, target, "l1") == 1.5
    assert reconstruction_loss(pred, target, "mse") == 2.5
    out = {
        "density": pred,
        "kl_xrd": torch.tensor(1.0),
        "kl_formula": torch.tensor(3.0),
    }
    terms = crystalnet_loss(out, target, kind="l1", kl_weight=0.05)
    assert set(terms) == {"loss", "reconstruction", "kl_xrd", "kl_formula"}
    torch.testing.assert_close(terms["loss"], torch.tensor(1.5 + 0.05 * 4))
    with pytest.raises(CrystalNetInputError, match="loss"):
        reconstruction_loss(pred, target, "huber")


def _two_crystals():
    pattern = torch.zeros(2, N_BINS)
    pattern[0, [100, 300]] = torch.tensor([1.0, 0.5])
    pattern[1, [150, 600]] = torch.tensor([1.0, 0.3])
    composition = torch.zeros(2, N_ELEMENTS)
    composition[0, [10, 16]] = 0.5  # NaCl
    composition[1, 11] = 1.0  # Mg
    centres = torch.tensor([[[0.5, 0.5, 0.5]], [[0.0, 0.0, 0.0]]])
    heights = torch.tensor([[8.0], [3.0]])

    def density(points):  # periodic Gaussians, e/A^3
        d = points - centres
        d = d - torch.round(d)
        return heights * torch.exp(-(d**2).sum(-1) / (2 * 0.15**2))

    return pattern, composition, density


def test_tiny_model_overfits_two_crystals():
    torch.manual_seed(0)
    model = CrystalNet("tiny")
    pattern, composition, density = _two_crystals()
    gen = torch.Generator().manual_seed(1)
    transform = model.target_transform()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(300):
        points = torch.rand(2, 512, 3, generator=gen)
        out = model(pattern, composition, points, generator=gen)
        terms = crystalnet_loss(out, transform(density(points)), kind="mse")
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        history.append(terms["reconstruction"].item())
    final = np.mean(history[-10:])
    # the loss of the best constant prediction (the target variance)
    baseline = transform(density(torch.rand(2, 4096, 3, generator=gen))).var()
    assert final < history[0] / 10
    assert final < 0.25 * baseline.item()


def test_recalibrated_batchnorm_makes_eval_match_train():
    torch.manual_seed(0)
    model = CrystalNet("tiny")
    pattern, composition, points = make_batch(16, p=64, seed=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(5):  # big steps: the running statistics go stale
        out = model(pattern, composition, points)
        loss = crystalnet_loss(out, torch.rand(16, 64) * 3)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        model.train()
        reference = model(pattern, composition, points, sample=False)[
            "density"
        ]
        model.eval()
        stale = model(pattern, composition, points, sample=False)["density"]
        model.recalibrate_batchnorm(
            [(pattern, composition, points)], sample=False
        )
        assert not model.training
        fresh = model(pattern, composition, points, sample=False)["density"]

    def error(x):
        return ((x - reference).norm() / reference.norm()).item()

    # the remaining gap is the unbiased (B/(B-1)) variance of 16 crystals
    assert error(fresh) < 0.1
    assert error(fresh) < error(stale) / 3


def test_predict_grid_bfloat16_close_to_float32(tiny):
    """bfloat16 autocast of the queries changes the grid only slightly."""
    from diffpy.crystalnet.errors import CrystalNetInputError
    from diffpy.crystalnet.model.precision import native_bfloat16

    pattern, composition, _ = make_batch(1)
    kw = dict(n=6, samples=2, seed=1)
    a = tiny.predict_grid(pattern, composition, **kw)
    b = tiny.predict_grid(pattern, composition, precision="bfloat16", **kw)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b)  # it did run in bfloat16
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    auto = tiny.predict_grid(pattern, composition, precision="auto", **kw)
    np.testing.assert_array_equal(auto, b if native_bfloat16() else a)
    with pytest.raises(CrystalNetInputError, match="precision"):
        tiny.predict_grid(pattern, composition, precision="half", **kw)
