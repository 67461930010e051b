"""Training augmentation: shapes, masks, determinism, physics."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.datasets.augment import (
    AugmentSettings,
    PatternAugmenter,
    lab_augment,
    paper_augment,
)
from diffpy.crystalnet.datasets.builder import BuildSettings, make_entry
from diffpy.crystalnet.datasets.composition_prior import CompositionPrior
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.broadening import broaden_sticks
from diffpy.crystalnet.physics.composition import composition_vector
from diffpy.crystalnet.physics.model_input import (
    BIN_WIDTH,
    grid_q,
    pattern_to_model_input,
)
from diffpy.crystalnet.physics.pattern import Pattern
from diffpy.crystalnet.physics.profiles import Profile, lorentz_polarization


@pytest.fixture(scope="module")
def entry():
    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    return make_entry(nacl, BuildSettings(grid_size=8))


def _fixed(**kw):
    """Settings without randomness except what the test asks for."""
    base = dict(
        u_max=0.0,
        p_size=0.0,
        p_zero_shift=0.0,
        p_noise=0.0,
        p_residual=0.0,
        p_kalpha2=0.0,
    )
    base.update(kw)
    return AugmentSettings(**base)


def test_shapes_masks_and_determinism(entry):
    aug = PatternAugmenter(AugmentSettings(p_lab=0.5))
    for seed in range(30):
        p1, m1 = aug(entry, np.random.default_rng(seed))
        p2, m2 = aug(entry, np.random.default_rng(seed))
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(m1, m2)
        assert p1.shape == m1.shape == (1024,)
        assert p1.dtype == m1.dtype == np.float32
        assert p1.min() >= 0 and p1.max() == pytest.approx(1.0)
        assert np.all(p1[m1 == 0] == 0)  # nothing outside the scan
        # the mask is one contiguous range of bins
        idx = np.flatnonzero(m1)
        assert idx.size and np.all(np.diff(idx) == 1)
    a = aug(entry, np.random.default_rng(1))[0]
    b = aug(entry, np.random.default_rng(2))[0]
    assert not np.array_equal(a, b)


def test_cu_scan_covers_the_first_fifth_of_the_grid(entry):
    settings = _fixed(
        p_lab=1.0, sources={"Cu": 1.0}, start_range=(5.0, 5.0001),
        end_range=(90.0, 90.0001),
    )  # fmt: skip
    pattern, mask = lab_augment(entry, np.random.default_rng(0), settings)
    q = grid_q()[mask.astype(bool)]
    assert q.max() == pytest.approx(5.77, abs=0.05)  # 4 pi sin 45 / 1.54
    assert 0.18 < mask.mean() < 0.21
    assert pattern[mask == 0].max() == 0.0


def test_zero_width_mo_scan_reproduces_the_binned_sticks(entry):
    settings = _fixed(
        sources={"Mo": 1.0}, w_range=(1e-9, 1.1e-9),
        start_range=(0.001, 0.002), end_range=(179.99, 179.995),
    )  # fmt: skip
    pattern, mask = lab_augment(entry, np.random.default_rng(3), settings)
    assert mask.all()
    np.testing.assert_allclose(pattern, entry["pattern"], atol=1e-6)


@pytest.mark.parametrize("kalpha2", [0.0, 1.0])
def test_lab_path_matches_the_real_data_pipeline(entry, kalpha2):
    """Fast grid path == fine Cu profile read by pattern_to_model_input."""
    settings = _fixed(
        sources={"Cu": 1.0}, p_kalpha2=kalpha2, w_range=(0.004, 0.00401),
        start_range=(10.0, 10.001), end_range=(120.0, 120.001),
    )  # fmt: skip
    pattern, mask, info = lab_augment(
        entry, np.random.default_rng(0), settings, return_info=True
    )
    assert len(info["lines"]) == (2 if kalpha2 else 1)
    q, stick = entry["sticks_q"], entry["sticks_intensity"]
    theta_mo = np.arcsin(q * 0.71073 / (4 * np.pi))
    fine = np.arange(10.0, 120.0, 0.002)
    y = np.zeros_like(fine)
    for lam, weight in info["lines"]:
        s = q * lam / (4 * np.pi)
        ok = s < 1
        theta = np.arcsin(s[ok])
        lab = weight * stick[ok] / lorentz_polarization(theta_mo[ok])
        lab = lab * lorentz_polarization(theta)
        y += broaden_sticks(
            np.degrees(2 * theta), lab, fine, Profile(w=info["w"])
        )
    real = pattern_to_model_input(
        Pattern(fine, y, wavelength=info["wavelength"]), background=None
    )
    np.testing.assert_array_equal(mask.astype(bool), real.mask)
    assert np.abs(pattern - real.intensity).max() < 0.02
    assert np.abs(pattern - real.intensity).sum() < 0.01 * pattern.sum()


def test_paper_augment_shift_and_noise(entry):
    base = entry["pattern"]
    shifts = set()
    for seed in range(40):
        out, mask = paper_augment(base, np.random.default_rng(seed), 0.0)
        assert mask.all()
        k = np.argmax(out) - np.argmax(base)
        assert abs(k) * BIN_WIDTH < 0.6
        shifts.add(int(k))
    assert shifts == {-3, -2, -1, 0, 1, 2, 3}
    noisy, _ = paper_augment(base, np.random.default_rng(0), 0.001, 0.0)
    assert noisy.min() >= 0
    assert 0 < np.abs(noisy - base).max() < 0.01


def test_composition_prior_modes_match_composition_vector():
    full = composition_vector("Ba2TiO4")
    rng = np.random.default_rng(0)
    for mode in ("full", "elements", "none"):
        np.testing.assert_allclose(
            CompositionPrior.apply(full, mode, rng),
            composition_vector("Ba2TiO4", mode=mode),
            atol=1e-7,
        )
    dropped = {
        int(np.flatnonzero((full > 0) & (out == 0))[0])
        for out in (
            CompositionPrior.apply(full, "drop", np.random.default_rng(s))
            for s in range(20)
        )
    }
    assert dropped == set(np.flatnonzero(full).tolist())
    out = CompositionPrior.apply(full, "drop", np.random.default_rng(0))
    assert out.sum() == pytest.approx(1.0)
    prior = CompositionPrior({"none": 1.0, "full": 0.0})
    assert not prior(full, np.random.default_rng(0)).any()
    counts = {m: 0 for m in CompositionPrior.MODES}
    mixed = CompositionPrior()
    for seed in range(400):
        v = mixed(full, np.random.default_rng(seed))
        if not v.any():
            counts["none"] += 1
        elif np.allclose(v, full):
            counts["full"] += 1
    assert 0.45 < counts["full"] / 400 < 0.65
    assert 0.08 < counts["none"] / 400 < 0.22


def test_bad_settings_are_refused():
    with pytest.raises(CrystalNetInputError, match="probability"):
        AugmentSettings(p_lab=1.5)
    with pytest.raises(CrystalNetInputError, match="unknown sources"):
        AugmentSettings(sources={"W": 1.0})
    with pytest.raises(CrystalNetInputError, match="unknown composition"):
        CompositionPrior({"partial": 1.0})
