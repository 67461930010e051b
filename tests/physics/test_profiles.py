"""Peak shapes, widths, K-alpha2, background and noise."""

import numpy as np
import pytest

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.datasets.lab_profiles import random_lab_profile
from diffpy.crystalnet.physics.broadening import (
    add_noise,
    background,
    broaden_sticks,
    profile_grid,
    synthesize_profile,
)
from diffpy.crystalnet.physics.profiles import (
    Profile,
    as_profile,
    caglioti_fwhm,
    kalpha_sticks,
    lorentz_polarization,
    peak_widths,
    pseudo_voigt,
    tch_pseudo_voigt,
)


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_pseudo_voigt_has_unit_area_and_the_given_fwhm(eta):
    x = np.linspace(-200, 200, 400001)
    y = pseudo_voigt(x, 0.5, eta)
    area = np.trapezoid(y, x)
    # the Lorentzian tail beyond +-200 holds 2/pi * atan(1/(4*200/0.5)).
    lost = eta * (1 - 2 / np.pi * np.arctan(2 * 200 / 0.5))
    assert area == pytest.approx(1 - lost, abs=1e-6)
    half = pseudo_voigt(np.array([0.25]), 0.5, eta)[0]
    assert half == pytest.approx(
        pseudo_voigt(np.array([0.0]), 0.5, eta)[0] / 2
    )


def test_tch_limits():
    h, eta = tch_pseudo_voigt(np.array([0.2]), np.array([0.0]))
    assert h[0] == pytest.approx(0.2) and eta[0] == pytest.approx(0.0)
    h, eta = tch_pseudo_voigt(np.array([1e-9]), np.array([0.3]))
    assert h[0] == pytest.approx(0.3) and eta[0] == pytest.approx(1.0, 1e-4)


def test_caglioti_and_size_widths():
    tth = np.array([20.0, 60.0, 100.0])
    t = np.tan(np.radians(tth / 2))
    expected = np.sqrt(0.02 * t**2 - 0.01 * t + 0.005)
    np.testing.assert_allclose(
        caglioti_fwhm(tth, 0.02, -0.01, 0.005), expected
    )
    # pure Scherrer: K lambda / (D cos theta), in degrees
    h, eta = peak_widths(tth, 1.5406, 0, 0, 1e-14, crystallite_size=50)
    scherrer = np.degrees(0.9 * 1.5406 / (500 * np.cos(np.radians(tth / 2))))
    np.testing.assert_allclose(h, scherrer, rtol=1e-4)
    assert np.all(eta > 0.999)


def test_broadened_peak_area_position_and_zero_shift():
    grid = np.arange(20, 60, 0.002)
    prof = Profile(w=0.01, eta=0.4, cutoff=400, zero_shift=0.05)
    y = broaden_sticks(
        np.array([35.0, 45.0]), np.array([3.0, 1.0]), grid, prof
    )
    assert np.trapezoid(y, grid) == pytest.approx(4.0, rel=2e-3)
    assert grid[np.argmax(y)] == pytest.approx(35.05, abs=0.002)


def test_kalpha2_line_position_and_intensity():
    lam1, lam2 = 1.54056, 1.54439
    tth = np.array([40.0, 100.0])
    theta = np.radians(tth / 2)
    inten = 5.0 * lorentz_polarization(theta)  # |F|^2 = 5 for both
    pos, out = kalpha_sticks(tth, inten, lam1)
    np.testing.assert_allclose(pos[:2], tth)
    d = lam1 / (2 * np.sin(theta))
    np.testing.assert_allclose(
        pos[2:], np.degrees(2 * np.arcsin(lam2 / (2 * d)))
    )
    lp2 = lorentz_polarization(np.radians(pos[2:] / 2))
    np.testing.assert_allclose(out[2:], 0.5 * 5.0 * lp2)
    # from the mean Ka wavelength both lines are placed from d
    pos_mean, _ = kalpha_sticks(
        np.degrees(2 * np.arcsin(1.54184 / (2 * d))), inten, 1.54184
    )
    np.testing.assert_allclose(pos_mean, pos, atol=1e-9)


def test_background_matches_numpy_series():
    x = np.linspace(5, 85, 50)
    coef = [3.0, -1.0, 0.5, 0.25]
    t = (2 * x - (x[0] + x[-1])) / (x[-1] - x[0])
    np.testing.assert_allclose(
        background(x, coef), np.polynomial.chebyshev.chebval(t, coef)
    )
    np.testing.assert_allclose(
        background(x, coef, "polynomial"),
        np.polynomial.polynomial.polyval(x, coef),
    )
    assert np.all(background(x, []) == 0)


def test_poisson_noise_is_seeded_and_has_poisson_statistics():
    y = np.full(20000, 400.0)
    a, sa = add_noise(y, {"noise": "poisson", "seed": 3})
    b, _ = add_noise(y, {"noise": "poisson", "seed": 3})
    np.testing.assert_array_equal(a, b)
    assert a.mean() == pytest.approx(400, rel=0.01)
    assert a.var() == pytest.approx(400, rel=0.05)
    np.testing.assert_allclose(sa, np.sqrt(a))
    same, none = add_noise(y, Profile())
    assert none is None and same is y


def test_synthesize_scales_peaks_and_adds_background():
    grid = np.arange(10, 50, 0.01)
    y, sigma = synthesize_profile(
        np.array([30.0]),
        np.array([7.0]),
        grid,
        {"w": 0.01, "intensity_max": 500, "background": (20.0,)},
    )
    assert sigma is None
    assert y.max() == pytest.approx(520.0, rel=1e-3)
    assert y.min() == pytest.approx(20.0, abs=0.5)


def test_q_grid():
    x, tth = profile_grid((5, 60), {"xtype": "q", "step": 0.01}, 0.71073)
    q = 4 * np.pi * np.sin(np.radians(tth / 2)) / 0.71073
    np.testing.assert_allclose(q, x, atol=1e-12)
    assert np.allclose(np.diff(x), 0.01)


@pytest.mark.parametrize(
    "settings,match",
    [
        ({"w": -1}, "must not be negative"),
        ({"crystallite_size": 0}, "positive"),
        ({"noise": "gauss"}, "noise must be"),
        ({"background_type": "spline"}, "background_type"),
        ({"xtype": "d"}, "xtype"),
        ({"u": "wide"}, "must be a number"),
    ],
)
def test_profile_validation(settings, match):
    with pytest.raises(CrystalNetInputError, match=match):
        as_profile(settings)


def test_zero_width_is_an_error():
    with pytest.raises(CrystalNetInputError, match="peak width is zero"):
        broaden_sticks(
            np.array([30.0]), np.array([1.0]), np.arange(20, 40, 0.1), {"w": 0}
        )


def test_random_lab_profile_draws_within_the_documented_ranges():
    ranges = {
        "u": (0.002, 0.02),
        "v": (-0.006, 0.0),
        "w": (0.002, 0.006),
        "crystallite_size": (60, 300),
        "microstrain": (0, 5e-4),
        "zero_shift": (-0.03, 0.03),
        "intensity_max": (5e3, 5e4),
    }
    rng = np.random.default_rng(3)
    draws = [random_lab_profile(rng) for _ in range(200)]
    for name, (lo, hi) in ranges.items():
        values = [p[name] for p, _ in draws]
        assert lo <= min(values) and max(values) <= hi, name
        # spread over the range, not a constant
        assert max(values) - min(values) > 0.8 * (hi - lo), name
    b = np.array([p[1] for p in draws])
    assert 0.5 <= b.min() and b.max() <= 1.2
    bg = np.array([p["background"] for p, _ in draws])
    assert bg.shape == (200, 3)
    assert np.all(bg >= [100, -120, 0]) and np.all(bg <= [400, 0, 50])
    profile = draws[0][0]
    assert profile["kalpha2"] is True and profile["step"] == 0.02
    assert profile["noise"] == "poisson"
    assert 0 <= profile["seed"] < 2**31
    assert as_profile(profile).kalpha2  # valid Profile settings


def test_random_lab_profile_is_reproducible_and_noise_independent():
    first = random_lab_profile(np.random.default_rng(11))
    again = random_lab_profile(np.random.default_rng(11))
    other = random_lab_profile(np.random.default_rng(12))
    assert first == again
    assert first != other
    quiet, b_quiet = random_lab_profile(np.random.default_rng(11), None)
    assert quiet["noise"] is None
    assert {**quiet, "noise": "poisson"} == first[0] and b_quiet == first[1]
