"""Profile fit of a candidate structure to an observed pattern."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.broadening import background
from diffpy.crystalnet.physics.pattern import Pattern
from diffpy.crystalnet.physics.simulator import simulate_pattern
from diffpy.crystalnet.refine.kernel import chebyshev_basis
from diffpy.crystalnet.refine.profile_fit import fit_candidate

PROFILE = {
    "u": 0.01,
    "v": -0.003,
    "w": 0.003,
    "crystallite_size": 150.0,
    "kalpha2": True,
    "zero_shift": 0.03,
    "background": (200.0, -60.0, 20.0),
    "noise": "poisson",
    "seed": 7,
    "intensity_max": 20000.0,
    "step": 0.02,
}


def zincblende():
    return Structure.from_spacegroup(
        "F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.25] * 3]
    )


def rocksalt_zns():
    """Same lattice, same composition, wrong structure (rock salt)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.5] * 3]
    )


@pytest.fixture(scope="module")
def observed():
    return simulate_pattern(
        zincblende(), "CuKa", (20, 100), profile=PROFILE, b_factors=0.8
    )


def test_true_structure_fits_to_the_noise_level(observed):
    fit = fit_candidate(zincblende(), observed)
    # Poisson noise only: the right model reaches the expected R factor
    assert fit.rwp < 1.15 * fit.rexp
    assert fit.chi2 < 1.3
    assert fit.rp < fit.rwp * 1.5
    par = fit.parameters
    assert par["zero_shift"] == pytest.approx(0.03, abs=0.01)
    assert par["b_iso"] == pytest.approx(0.8, abs=0.3)
    # Ka2/Ka1 is free in the fit and comes out near the simulated 0.5
    assert par["kalpha2_scale"] / par["scale"] == pytest.approx(0.5, abs=0.05)
    assert fit.parameters["weights"] == "file"
    assert fit.calculated.shape == fit.observed.shape
    assert np.allclose(fit.difference, fit.observed - fit.calculated)
    # the refined background follows the simulated one
    truth = background(fit.two_theta, PROFILE["background"])
    assert np.max(np.abs(fit.background - truth)) < 0.1 * truth.max()


def test_wrong_structure_fits_clearly_worse(observed):
    right = fit_candidate(zincblende(), observed)
    wrong = fit_candidate(rocksalt_zns(), observed)
    assert wrong.rwp > 3 * right.rwp


def test_weights_without_sigma_and_errors(observed):
    counts = Pattern(
        observed.x,
        observed.intensity,
        wavelength=observed.wavelength,
        source="counts.xy",
    )
    fit = fit_candidate(zincblende(), counts, refine=("zero_shift", "w"))
    assert fit.parameters["weights"] == "sqrt(counts)"
    assert fit.parameters["refined"] == ["zero_shift", "w"]
    assert fit.rwp < 0.2
    with pytest.raises(CrystalNetInputError, match="unknown parameters"):
        fit_candidate(zincblende(), observed, refine=("scale_factor",))
    sticks = simulate_pattern(zincblende(), "CuKa", (20, 100)).to_pattern()
    with pytest.raises(CrystalNetInputError, match="profile"):
        fit_candidate(zincblende(), sticks)


def test_chebyshev_basis_matches_profile_background():
    x = np.linspace(10, 80, 50)
    coef = [3.0, -1.0, 0.5, 0.25]
    assert np.allclose(chebyshev_basis(x, 4) @ coef, background(x, coef))
