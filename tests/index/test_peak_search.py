"""Peak search: sub-step positions on simulated lab profiles."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet import CrystalNetInputError, simulate_pattern
from diffpy.crystalnet.index.peak_search import find_peaks
from diffpy.crystalnet.physics.pattern import Pattern

LAB = dict(
    u=0.004,
    v=-0.002,
    w=0.0015,
    crystallite_size=120,
    microstrain=3e-4,
    zero_shift=0.05,
    background=(260, -110, 45, -12),
    noise="poisson",
    intensity_max=20000,
    kalpha2=True,
)


@pytest.fixture(scope="module")
def silicon():
    return Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]
    )


@pytest.mark.parametrize("line", ["CuKa", "MoKa"])
def test_profile_peaks_within_a_hundredth_of_a_degree(silicon, line):
    pattern = simulate_pattern(
        silicon, line, (10, 90), profile=dict(LAB, seed=7)
    )
    sticks = simulate_pattern(silicon, pattern.wavelength, (10, 90))
    strong = sticks.x[sticks.y >= 5.0] + 0.05  # observed = true + zero
    peaks = find_peaks(pattern)
    # the K-alpha1 wavelength is reported and Q uses it
    assert peaks.wavelength == pytest.approx(pattern.wavelength)
    np.testing.assert_allclose(
        peaks.q,
        4
        * np.pi
        * np.sin(np.radians(peaks.two_theta / 2))
        / 1.0
        / peaks.wavelength,
    )
    for t in strong:
        err = np.min(np.abs(peaks.two_theta - t))
        assert err < 0.01, (t, err)
    # no K-alpha2 line or noise is reported as a peak
    for t in peaks.two_theta:
        assert np.min(np.abs(sticks.x + 0.05 - t)) < 0.05, t
    assert 0.3 < peaks.kalpha2_ratio < 0.7
    assert np.all(peaks.fwhm > 0.02) and np.all(peaks.fwhm < 0.3)


def test_monochromatic_data_fit_without_kalpha2(silicon):
    prof = dict(LAB, kalpha2=False, seed=3)
    pattern = simulate_pattern(silicon, "CuKa1", (20, 120), profile=prof)
    peaks = find_peaks(pattern)
    assert peaks.kalpha2_ratio < 0.1  # measured on the data
    sticks = simulate_pattern(silicon, "CuKa1", (20, 120))
    for t in sticks.x[sticks.y >= 5.0] + 0.05:
        assert np.min(np.abs(peaks.two_theta - t)) < 0.01


def test_sticks_are_peaks_and_weak_ones_dropped():
    pattern = Pattern(
        x=[20.0, 30.0, 40.0, 50.0],
        intensity=[100.0, 0.5, 40.0, 10.0],
        kind="sticks",
        wavelength=1.5406,
    )
    peaks = find_peaks(pattern, min_prominence=0.01)
    np.testing.assert_allclose(peaks.two_theta, [20.0, 40.0, 50.0])
    assert np.all(peaks.fwhm == 0)
    assert peaks.q[0] == pytest.approx(
        4 * np.pi * np.sin(np.radians(10)) / 1.5406
    )


def test_bad_settings_and_flat_profiles_raise():
    x = np.linspace(10, 80, 500)
    flat = Pattern(x=x, intensity=np.ones_like(x), wavelength=1.5406)
    with pytest.raises(CrystalNetInputError, match="no peak"):
        find_peaks(flat)
    with pytest.raises(CrystalNetInputError, match="min_prominence"):
        find_peaks(flat, min_prominence=2)
    with pytest.raises(CrystalNetInputError, match="background"):
        find_peaks(flat, background="linear")
