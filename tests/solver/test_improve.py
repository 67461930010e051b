"""Intensity extraction and Fourier recycling of densities."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.density.cmed import cmed
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.cells import cmed_cell
from diffpy.crystalnet.physics.pattern import Pattern
from diffpy.crystalnet.physics.scattering import (
    _scatterers,
    _structure_factor_sq,
)
from diffpy.crystalnet.physics.simulator import simulate_pattern
from diffpy.crystalnet.refine.pawley import (
    ExtractedIntensities,
    extract_intensities,
)
from diffpy.crystalnet.solver.recycle import fourier_recycle, improve_density

B_DATA = 0.8
N = 32

PROFILE = {
    "u": 0.01,
    "v": -0.003,
    "w": 0.004,
    "crystallite_size": 150.0,
    "microstrain": 2e-4,
    "kalpha2": True,
    "zero_shift": 0.02,
    "background": (200.0, -50.0, 20.0),
    "noise": "poisson",
    "seed": 3,
    "intensity_max": 20000.0,
    "step": 0.02,
}


def rocksalt():
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )


def sphalerite():
    """Non-centrosymmetric (F-43m)."""
    return Structure.from_spacegroup(
        "F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.25] * 3]
    )


def perovskite():
    return Structure.from_spacegroup(
        "Pm-3m",
        Lattice.cubic(3.905),
        ["Sr", "Ti", "O"],
        [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]],
    )


def lab_pattern(structure, **changes):
    profile = dict(PROFILE, **changes)
    return simulate_pattern(
        structure, "CuKa", (10, 110), profile=profile, b_factors=B_DATA
    )


def true_f2(structure, hkl, d):
    """|F|^2 of the structure (pymatgen form factors, B of the data)."""
    sc = _scatterers(structure, "test")
    b = np.full(len(sc["z"]), B_DATA)
    return _structure_factor_sq(hkl, (0.5 / d) ** 2, sc, b, None)


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def perturb(rho, rng, phase_deg, log_amp):
    """Friedel-consistent random phase errors and amplitude factors."""
    f = np.fft.fftn(rho)

    def mate(a):  # a(-h)
        return np.roll(np.flip(a, (0, 1, 2)), 1, (0, 1, 2))

    r = rng.normal(0.0, np.radians(phase_deg), f.shape)
    phase = (r - mate(r)) / np.sqrt(2.0)
    a = np.exp(rng.normal(0.0, log_amp, f.shape))
    amp = np.sqrt(a * mate(a))
    g = f * amp * np.exp(1j * phase)
    g[0, 0, 0] = f[0, 0, 0]
    return np.real(np.fft.ifftn(g))


@pytest.fixture(scope="module")
def zns():
    structure = cmed_cell(sphalerite())
    pattern = lab_pattern(sphalerite())
    extracted = extract_intensities(pattern, structure.lattice)
    return structure, pattern, extracted


@pytest.fixture(scope="module")
def sto():
    structure = cmed_cell(perovskite())
    pattern = lab_pattern(perovskite())
    extracted = extract_intensities(pattern, structure.lattice)
    return structure, pattern, extracted


# --------------------------------------------------------------------------
# extraction


def test_extraction_matches_true_intensities(zns):
    structure, pattern, ex = zns
    assert isinstance(ex, ExtractedIntensities)
    # noise-limited fit of the Poisson data
    assert ex.chi2 < 1.3
    p = ex.parameters
    assert p["zero_shift"] == pytest.approx(0.02, abs=0.005)
    assert p["kalpha2_ratio"] == pytest.approx(0.5, abs=0.03)
    assert abs(p["strain"]) < 2e-4
    assert p["crystallite_size"] == pytest.approx(150, rel=0.2)
    # every primitive reflection up to 110 deg is listed, sorted
    assert ex.hkl.shape == (len(ex.group), 3)
    assert np.all(np.diff(ex.two_theta) >= 0)
    assert np.all(ex.group_intensity >= 0)
    truth = true_f2(structure, ex.hkl, ex.d)
    group_truth = np.bincount(ex.group, weights=truth, minlength=ex.n_groups)
    observed = (
        np.bincount(ex.group, weights=ex.observed, minlength=ex.n_groups)
        == ex.group_size
    )
    assert observed.sum() >= 10
    assert (
        correlation(group_truth[observed], ex.group_intensity[observed])
        > 0.999
    )
    # equipartition within a group
    np.testing.assert_allclose(
        ex.f_squared_observed * ex.group_size[ex.group],
        ex.group_intensity[ex.group],
    )


def test_extraction_noise_free_rwp_and_groups():
    structure = cmed_cell(rocksalt())
    pattern = lab_pattern(rocksalt(), noise=None)
    ex = extract_intensities(pattern, structure.lattice)
    assert ex.rwp < 0.02
    # symmetry-equivalent reflections (same d) always share a group
    for g in range(ex.n_groups):
        d = ex.d[ex.group == g]
        assert np.ptp(d) < 0.02 * d.mean()
    same_d = np.abs(np.diff(ex.d)) < 1e-6
    assert np.all(np.diff(ex.group)[same_d] == 0)
    # absent-looking weak groups are not negative and strong ones resolved
    truth = true_f2(structure, ex.hkl, ex.d)
    group_truth = np.bincount(ex.group, weights=truth, minlength=ex.n_groups)
    obs = ex.group_two_theta > 12
    assert correlation(group_truth[obs], ex.group_intensity[obs]) > 0.999


def test_extraction_q_pattern_and_conventional_cell(zns):
    structure, _, ex = zns
    q_pattern = lab_pattern(sphalerite(), xtype="q", step=0.002)
    ex_q = extract_intensities(q_pattern, structure.lattice)
    assert ex_q.chi2 < 1.5
    common = min(ex.n_groups, ex_q.n_groups)
    # groups beyond the measured range only absorb tails: not determined
    inside = ex.group_two_theta[:common] <= ex.profile_two_theta[-1]
    assert (
        correlation(
            ex.group_intensity[:common][inside],
            ex_q.group_intensity[:common][inside],
        )
        > 0.99
    )
    # the conventional F cell: only h, k, l all even or all odd
    conv = sphalerite().lattice
    ex_f = extract_intensities(lab_pattern(sphalerite()), conv, "F")
    parity = ex_f.hkl % 2
    assert np.all((parity == parity[:, :1]).all(axis=1))
    assert ex_f.n_groups == ex.n_groups
    np.testing.assert_allclose(
        ex_f.group_intensity / ex_f.group_intensity.max(),
        ex.group_intensity / ex.group_intensity.max(),
        atol=0.01,
    )


# --------------------------------------------------------------------------
# recycling


def test_recycling_repairs_phase_and_amplitude_errors(zns, rng):
    structure, _, ex = zns
    truth = cmed(structure, n=N, standardize=False)
    bad = perturb(truth, rng, phase_deg=50, log_amp=0.5)
    before = correlation(bad, truth)
    out = fourier_recycle(bad, structure.lattice, ex, cycles=10)
    after = correlation(out.density, truth)
    assert out.density.shape == truth.shape
    assert after > before + 0.1
    assert out.r_after < out.r_before
    assert out.density.min() >= 0
    # the electron count F(000) is kept (clipping adds a little)
    electrons = truth.sum() * structure.lattice.volume / N**3
    assert out.electrons == pytest.approx(electrons, rel=1e-9)
    # the CMED map (B = 5) is blurrier than the data (B = 0.8)
    assert 2.0 < out.delta_b < 6.0


def test_recycling_the_truth_keeps_it_and_basis_invariance(zns):
    structure, _, ex = zns
    truth = cmed(structure, n=N, standardize=False)
    out = fourier_recycle(truth, structure.lattice, ex, cycles=3)
    assert correlation(out.density, truth) > 0.99
    assert out.r_before < 0.05
    # the same density on a permuted basis of the same lattice
    perm = [2, 0, 1]
    lattice = Lattice(structure.lattice.matrix[perm])
    grid = np.transpose(truth, perm)
    bad = np.transpose(perturb(truth, np.random.default_rng(5), 40, 0.3), perm)
    a = fourier_recycle(bad, lattice, ex, cycles=3)
    b = fourier_recycle(
        np.transpose(bad, np.argsort(perm)), structure.lattice, ex, cycles=3
    )
    np.testing.assert_allclose(
        a.density, np.transpose(b.density, perm), atol=1e-8
    )
    assert correlation(a.density, grid) > correlation(bad, grid)


def test_recycling_moves_wrong_positions_toward_truth(sto, rng):
    structure, _, ex = sto
    truth = cmed(structure, n=N, standardize=False)
    wrong = structure.copy()
    for i in range(len(wrong)):
        v = rng.normal(size=3)
        wrong.translate_sites([i], 0.4 * v / np.linalg.norm(v), False)
    bad = cmed(wrong, n=N, standardize=False)
    before = correlation(bad, truth)
    out = fourier_recycle(bad, structure.lattice, ex, cycles=5)
    assert out.r_before > 0.2
    assert correlation(out.density, truth) > before + 0.05


def test_flipping_and_improve_density(sto, rng):
    structure, pattern, ex = sto
    truth = cmed(structure, n=N, standardize=False)
    bad = perturb(truth, rng, phase_deg=50, log_amp=0.0)
    out = improve_density(
        bad, structure.lattice, extracted=ex, cycles=3, flip=10
    )
    assert out.extracted is ex
    assert len(out.r_history) == 3 + 10 + 1
    assert correlation(out.density, truth) > correlation(bad, truth) + 0.1
    plain = fourier_recycle(
        bad, structure.lattice, ex, cycles=1, positivity=False
    )
    # one cycle without positivity imposes the observed amplitudes exactly
    assert plain.r_after < 1e-6


# --------------------------------------------------------------------------
# bad input


def test_bad_input(zns):
    structure, pattern, ex = zns
    lat = structure.lattice
    grid = np.ones((8, 8, 8))
    sticks = simulate_pattern(sphalerite(), "CuKa", (10, 90)).to_pattern()
    with pytest.raises(CrystalNetInputError, match="sticks"):
        extract_intensities(sticks, lat)
    no_wl = Pattern(x=pattern.x, intensity=pattern.intensity)
    with pytest.raises(CrystalNetInputError, match="wavelength"):
        extract_intensities(no_wl, lat)
    with pytest.raises(CrystalNetInputError, match="Lattice"):
        extract_intensities(pattern, "a=5")
    with pytest.raises(CrystalNetInputError, match="centring"):
        extract_intensities(pattern, lat, centring="X")
    with pytest.raises(CrystalNetInputError, match="start value"):
        extract_intensities(pattern, lat, profile={"w": "wide"})
    with pytest.raises(CrystalNetInputError, match="unknown"):
        extract_intensities(pattern, lat, refine=("eta",))
    with pytest.raises(CrystalNetInputError, match="n, n, n"):
        fourier_recycle(np.ones((8, 8, 4)), lat, ex)
    with pytest.raises(CrystalNetInputError, match="NaN"):
        fourier_recycle(np.full((8, 8, 8), np.nan), lat, ex)
    with pytest.raises(CrystalNetInputError, match="same lattice"):
        fourier_recycle(grid, Lattice.cubic(7.0), ex)
    with pytest.raises(CrystalNetInputError, match="extract_intensities"):
        fourier_recycle(grid, lat, {"hkl": []})
    with pytest.raises(CrystalNetInputError, match="cycles"):
        fourier_recycle(grid, lat, ex, cycles=-1)
    with pytest.raises(CrystalNetInputError, match="delta_b"):
        fourier_recycle(grid, lat, ex, delta_b="guess")
    with pytest.raises(CrystalNetInputError, match="pattern"):
        improve_density(grid, lat)
