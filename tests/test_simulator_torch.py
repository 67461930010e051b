"""The torch simulator equals the numpy one and is differentiable."""

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.physics.simulator import simulate_pattern
from diffpy.crystalnet.physics.simulator_torch import (
    PowderModel,
    reflection_intensities,
)


def _structures():
    return {
        "NaCl": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
        ),
        "ZnO": Structure.from_spacegroup(
            "P6_3mc",
            Lattice.hexagonal(3.25, 5.21),
            ["Zn", "O"],
            [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
        ),
        "triclinic": Structure.from_spacegroup(
            "P-1",
            Lattice.from_parameters(4.1, 5.3, 6.2, 82.0, 97.0, 105.0),
            [{"Cu": 0.7, "Ni": 0.3}, "O"],
            [[0.2, 0.3, 0.1], [0.7, 0.1, 0.4]],
        ),
    }


STRUCTURES = _structures()


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_sticks_match_numpy(name):
    structure = STRUCTURES[name]
    ref = simulate_pattern(structure, "MoKa", (0, 120), b_factors=0.6)
    model = PowderModel(structure, "MoKa", (0, 120), b_factors=0.6)
    x, y = model.sticks()
    y = (y / y.max() * 100).detach().numpy()
    assert len(y) == len(ref.y)
    np.testing.assert_allclose(x.detach().numpy(), ref.x, rtol=1e-9)
    np.testing.assert_allclose(y, ref.y, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_profile_matches_numpy(name):
    structure = STRUCTURES[name]
    prof = {
        "u": 0.02,
        "v": -0.01,
        "w": 0.005,
        "crystallite_size": 60.0,
        "microstrain": 5e-4,
        "kalpha2": True,
        "zero_shift": -0.02,
        "background": (50.0, -10.0, 4.0),
        "intensity_max": 1000.0,
        "step": 0.02,
    }
    ref = simulate_pattern(structure, "CuKa", (10, 100), profile=prof)
    model = PowderModel(structure, "CuKa", (10, 100), profile=prof)
    y = model().detach().numpy()
    np.testing.assert_allclose(model.x.numpy(), ref.x)
    np.testing.assert_allclose(y, ref.intensity, rtol=1e-6, atol=1e-9)


def test_gradcheck_small_case():
    structure = STRUCTURES["ZnO"]
    model = PowderModel(
        structure,
        "CuKa",
        (30, 40),
        profile={"w": 0.3, "u": 0.05, "cutoff": 1e4, "step": 0.5},
    )
    hkl = model.hkl[:6]
    grid = model.grid.clone()
    z, coeff = model.z, model.coeff

    def pattern(frac, lattice, b_iso, scale, zero, width):
        from diffpy.crystalnet.physics.broadening import _sum_peaks

        tth, inten, _ = reflection_intensities(
            hkl,
            lattice,
            frac,
            model.occupancy.detach(),
            z,
            coeff,
            b_iso,
            1.5406,
        )
        return _sum_peaks(
            tth + zero,
            scale * inten,
            grid,
            1.5406,
            0.05,
            0.0,
            width,
            None,
            20.0,
            0.0,
            0.9,
            1e4,
            xp=torch,
        )

    inputs = (
        model.frac_coords.detach().clone() + 0.01,
        model.lattice.detach().clone(),
        torch.tensor([0.4, 0.9, 0.5, 0.7], dtype=torch.float64),
        torch.tensor(1e-3, dtype=torch.float64),
        torch.tensor(0.05, dtype=torch.float64),
        torch.tensor(0.3, dtype=torch.float64),
    )
    inputs = tuple(t.requires_grad_(True) for t in inputs)
    assert torch.autograd.gradcheck(pattern, inputs, eps=1e-6, atol=1e-5)


def test_refining_lattice_and_zero_shift_recovers_them():
    structure = STRUCTURES["NaCl"]
    prof = {"w": 0.05, "step": 0.02, "zero_shift": 0.04}
    target = PowderModel(structure, "CuKa1", (20, 80), profile=prof)
    y_obs = target().detach()
    start = structure.copy()
    start.scale_lattice(start.volume * 1.002**3)  # a off by 0.2 %
    model = PowderModel(
        start, "CuKa1", (20, 80), profile=dict(prof, zero_shift=0.0)
    )
    a = torch.tensor(start.lattice.a, dtype=torch.float64, requires_grad=True)
    zero = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    angles = model.lattice.detach()[3:]
    scale = target.scale.detach()
    opt = torch.optim.LBFGS(
        [a, zero], max_iter=40, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        cubic = torch.cat([a.expand(3), angles])  # symmetry constraint
        y = model(lattice=cubic, zero_shift=zero, scale=scale)
        loss = (((y - y_obs) / y_obs.max()) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    a, zero = a.detach(), zero.detach()
    assert float(a) == pytest.approx(5.64, abs=1e-4)
    assert float(zero) == pytest.approx(0.04, abs=2e-3)
