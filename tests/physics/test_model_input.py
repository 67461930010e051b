"""The 1024-bin model input: grid, sticks, profiles, background, K-alpha2."""

import numpy as np
import pytest

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.physics.model_input import (
    BIN_WIDTH,
    GRID_WAVELENGTH,
    N_BINS,
    bin_sticks,
    find_grid_peaks,
    grid_edges,
    grid_q,
    grid_two_theta,
    pattern_to_model_input,
    remove_kalpha2,
    to_grid_intensity,
)
from diffpy.crystalnet.physics.pattern import Pattern
from diffpy.crystalnet.physics.transforms import q_to_two_theta
from diffpy.crystalnet.physics.wavelengths import WAVELENGTHS

A = 4.1  # simple cubic test lattice, angstrom
HKL = [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 0, 0), (2, 1, 0), (2, 1, 1)]


def reflections():
    """Q and |F|^2 m of a made-up simple cubic crystal."""
    n = np.array([h * h + k * k + l * l for h, k, l in HKL], dtype=float)
    q = 2 * np.pi * np.sqrt(n) / A
    strength = np.array([3.0, 10.0, 2.0, 6.0, 4.0, 5.0])
    return q, strength


def lorentz_polarization(two_theta):
    t = np.radians(two_theta)
    return (1 + np.cos(t) ** 2) / (np.sin(t / 2) ** 2 * np.cos(t / 2))


def simulate(wavelength, start, stop, step, fwhm=0.08, ka2=None, bg=None):
    """A profile with integrated intensities |F|^2 m LP at this wavelength.

    ka2: (lambda2, ratio) to add a K-alpha2 copy of every peak.
    """
    x = np.arange(start, stop, step)
    y = np.zeros_like(x)
    q, strength = reflections()
    sigma = fwhm / 2.3548
    lines = [(wavelength, 1.0)] + ([ka2] if ka2 else [])
    for lam, weight in lines:
        tth = q_to_two_theta(q, lam)
        area = strength * lorentz_polarization(tth) * weight
        for t, a in zip(tth, area):
            y += a * np.exp(-0.5 * ((x - t) / sigma) ** 2) / sigma
    if bg is not None:
        y += bg(x)
    return Pattern(x, y, xtype="tth", wavelength=wavelength, source="sim")


def smooth3(values):
    return np.convolve(values, np.ones(3), mode="same")


def test_grid_definition():
    edges, centres = grid_edges(), grid_two_theta()
    assert edges.size == N_BINS + 1 and centres.size == N_BINS
    assert edges[0] == 0 and edges[-1] == 180
    assert np.allclose(np.diff(edges), BIN_WIDTH)
    assert np.allclose(centres, 0.5 * (edges[1:] + edges[:-1]))
    q = grid_q()
    assert np.all(np.diff(q) > 0)
    assert q[-1] == pytest.approx(
        4 * np.pi * np.sin(np.radians(centres[-1] / 2)) / GRID_WAVELENGTH
    )


def test_bin_sticks_sums_and_normalises():
    centres_q = grid_q()
    q = np.array([centres_q[100], centres_q[100], centres_q[300], 30.0])
    binned = bin_sticks(q, [1.0, 2.0, 1.5, 100.0])  # Q=30: beyond Mo reach
    assert binned.shape == (N_BINS,) and binned.dtype == np.float32
    assert binned[100] == pytest.approx(1.0)  # 1 + 2, the largest bin
    assert binned[300] == pytest.approx(0.5)
    assert np.count_nonzero(binned) == 2
    with pytest.raises(CrystalNetInputError):
        bin_sticks([1.0, 2.0], [1.0, -1.0])


def test_sticks_pattern_goes_through_bin_sticks():
    q, strength = reflections()
    sticks = Pattern(q, strength, xtype="q", kind="sticks")
    model = sticks.to_model_input()
    assert np.array_equal(model.intensity, bin_sticks(q, strength))
    assert model.mask.all()


@pytest.mark.parametrize("line", ["CuKa1", "MoKa1", "AgKa1"])
def test_profile_matches_sticks_at_mo(line):
    """Any wavelength lands on the bins (and intensities) of Mo sticks."""
    pattern = simulate(WAVELENGTHS[line], 5, 120, 0.01)
    model = pattern.to_model_input(background=None)
    q, strength = reflections()
    tth_mo = q_to_two_theta(q, GRID_WAVELENGTH)
    sticks = bin_sticks(q, strength * lorentz_polarization(tth_mo))
    expected = np.floor(tth_mo / BIN_WIDTH).astype(int)
    # integrated over +-1 bin (a peak may straddle a bin edge)
    measured = smooth3(model.intensity)[expected]
    reference = smooth3(sticks)[expected]
    assert np.allclose(
        measured / measured.max(), reference / reference.max(), atol=0.03
    )
    peaks = find_grid_peaks(model)
    assert all(np.min(np.abs(peaks - e)) <= 1 for e in expected)


def test_mask_and_zero_outside_measured_range():
    pattern = simulate(WAVELENGTHS["CuKa1"], 10, 90, 0.02)
    model = pattern.to_model_input(background=None)
    q_min, q_max = pattern.q_range
    bin_q = grid_q()
    inside = np.flatnonzero(model.mask)
    assert np.all(np.diff(inside) == 1)  # one contiguous range
    assert bin_q[inside[0]] == pytest.approx(q_min, abs=0.03)
    assert bin_q[inside[-1]] == pytest.approx(q_max, abs=0.03)
    assert np.all(model.intensity[~model.mask] == 0)
    assert model.intensity.max() == pytest.approx(1.0)
    assert 0.15 < model.mask.mean() < 0.25  # Cu to 90 deg: a fifth


def test_coarse_data_interpolated_without_holes():
    pattern = simulate(0.2, 1, 40, 0.12, fwhm=0.4, bg=lambda x: 50 + 0 * x)
    model = pattern.to_model_input(background=None)
    assert model.mask.sum() > 300
    assert np.all(model.intensity[model.mask] > 0)


@pytest.mark.parametrize("fwhm", [0.08, 0.3])
def test_snip_background_removal(fwhm):
    def hump(x):
        return 2000 + 40 * x + 3000 * np.exp(-((x - 30) ** 2) / 300)

    clean = simulate(WAVELENGTHS["CuKa1"], 10, 100, 0.02, fwhm=fwhm)
    dirty = simulate(WAVELENGTHS["CuKa1"], 10, 100, 0.02, fwhm=fwhm, bg=hump)
    reference = clean.to_model_input(background=None).intensity
    removed = dirty.to_model_input(background="snip").intensity
    kept = dirty.to_model_input(background=None).intensity
    assert np.abs(removed - reference).max() < 0.05
    assert np.abs(kept - reference).max() > 0.1  # the background matters


def test_kalpha2_stripping_recovers_kalpha1():
    ka1, ka2 = WAVELENGTHS["CuKa1"], WAVELENGTHS["CuKa2"]
    single = simulate(ka1, 10, 120, 0.01)
    doublet = simulate(ka1, 10, 120, 0.01, ka2=(ka2, 0.5))
    stripped, lam = remove_kalpha2(doublet.x, doublet.intensity, ka1)
    assert lam == ka1
    error = np.abs(stripped - single.intensity).max()
    assert error < 0.02 * single.intensity.max()
    unstripped = np.abs(doublet.intensity - single.intensity).max()
    assert unstripped > 0.2 * single.intensity.max()
    doublet.wavelength = WAVELENGTHS["CuKa"]
    model = doublet.to_model_input(background=None, strip_kalpha2=True)
    reference = single.to_model_input(background=None).intensity
    assert np.abs(model.intensity - reference).max() < 0.03


def test_kalpha2_needs_kalpha_wavelength():
    pattern = simulate(0.1665, 2, 20, 0.01)
    with pytest.raises(CrystalNetInputError, match="K-alpha wavelength"):
        pattern.to_model_input(strip_kalpha2=True)


def test_polarization_identity_at_grid_wavelength():
    t = np.linspace(1, 170, 50)
    y = np.linspace(1, 2, 50)
    assert np.allclose(to_grid_intensity(t, y, GRID_WAVELENGTH), y)


def test_bad_background_option_and_out_of_reach():
    pattern = simulate(WAVELENGTHS["CuKa1"], 10, 40, 0.05)
    with pytest.raises(CrystalNetInputError, match="background"):
        pattern_to_model_input(pattern, background="rolling-ball")
    far = Pattern(np.linspace(20, 25, 30), np.ones(30), xtype="q")
    with pytest.raises(CrystalNetInputError, match="beyond"):
        far.to_model_input()


def test_flat_profile_has_nothing_above_background():
    flat = Pattern(np.linspace(10, 60, 200), np.full(200, 100.0), "tth", 1.5)
    with pytest.raises(CrystalNetInputError, match="above the background"):
        flat.to_model_input()
