"""Tests for SSIM/PSNR, the 24 grid rotations, peak finding and matching."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.density.cmed import cmed
from diffpy.crystalnet.density.maxima import find_density_maxima
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.metrics import (
    CUBE_ROTATIONS,
    apply_rotation,
    atom_recovery,
    best_over_rotations,
    pearson,
    psnr,
    ssim3d,
    structure_match,
)


def _structures():
    return {
        "NaCl": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0] * 3, [0.5] * 3]
        ),
        "ZnS": Structure.from_spacegroup(
            "F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0] * 3, [0.25] * 3]
        ),
        "CaF2": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.46), ["Ca", "F"], [[0] * 3, [0.25] * 3]
        ),
        "spinel": Structure.from_spacegroup(
            "Fd-3m",
            Lattice.cubic(8.08),
            ["Mg", "Al", "O"],
            [[0, 0, 0], [0.625] * 3, [0.387] * 3],
        ),
        "quartz": Structure.from_spacegroup(
            "P3_221",
            Lattice.hexagonal(4.913, 5.405),
            ["Si", "O"],
            [[0.4697, 0, 2 / 3], [0.4135, 0.2669, 0.1191 + 2 / 3]],
        ),
    }


def _direct_rotate(grid, rot):
    n = grid.shape[0]
    idx = np.indices(grid.shape).reshape(3, -1)
    out = np.empty_like(grid)
    dest = np.mod(rot @ idx, n)
    out[dest[0], dest[1], dest[2]] = grid[idx[0], idx[1], idx[2]]
    return out


def test_rotations_form_the_proper_cube_group(rng):
    mats = [np.asarray(m) for m in CUBE_ROTATIONS]
    assert len(mats) == 24
    keys = {m.tobytes() for m in mats}
    assert len(keys) == 24  # all distinct
    np.testing.assert_array_equal(mats[0], np.eye(3, dtype=int))
    for m in mats:
        assert round(np.linalg.det(m)) == 1
        np.testing.assert_array_equal(m @ m.T, np.eye(3, dtype=int))
        assert m.T.tobytes() in keys  # inverse
        for k in mats:
            assert (m @ k).tobytes() in keys  # closure
    # as index transforms of a grid: match the definition and compose
    grid = rng.random((6, 6, 6))
    for m in mats[:8]:
        np.testing.assert_array_equal(
            apply_rotation(grid, m), _direct_rotate(grid, m)
        )
    a, b = mats[5], mats[17]
    np.testing.assert_array_equal(
        apply_rotation(apply_rotation(grid, a), b), apply_rotation(grid, b @ a)
    )
    np.testing.assert_array_equal(
        apply_rotation(apply_rotation(grid, a), a.T), grid
    )


def test_identity_scores(rng):
    x = rng.random((16, 16, 16))
    assert ssim3d(x, x) == pytest.approx(1.0)
    assert ssim3d(x, x, boundary="reflect") == pytest.approx(1.0)
    assert psnr(x, x) == float("inf")
    assert pearson(x, x) == pytest.approx(1.0)
    y = x + 0.1 * rng.standard_normal(x.shape)
    assert 0 < ssim3d(y, x) < 1
    mse = np.mean((y - x) ** 2)
    expect = 10 * np.log10((x.max() - x.min()) ** 2 / mse)
    assert psnr(y, x) == pytest.approx(expect)
    with pytest.raises(CrystalNetInputError):
        ssim3d(x, np.ones_like(x))
    with pytest.raises(CrystalNetInputError):
        ssim3d(x[:8], x)


def test_ssim_matches_scikit_image_with_reflect(rng):
    metrics = pytest.importorskip("skimage.metrics")
    x = rng.random((14, 14, 14))
    y = x + 0.2 * rng.standard_normal(x.shape)
    ref = metrics.structural_similarity(
        y, x, win_size=7, data_range=x.max() - x.min()
    )
    assert ssim3d(y, x, boundary="reflect") == pytest.approx(ref, rel=1e-10)


def test_best_over_rotations_finds_the_rotation(rng):
    x = rng.random((12, 12, 12))
    rot = CUBE_ROTATIONS[13]
    turned = apply_rotation(x, rot)
    score, best = best_over_rotations(turned, x, ssim3d)
    assert score == pytest.approx(1.0)
    np.testing.assert_array_equal(apply_rotation(turned, best), x)


def test_nms_recovers_atoms_of_true_density():
    for name, structure in _structures().items():
        grid, cell = cmed(structure, n=50, return_structure=True)
        assert atom_recovery(grid, cell) == 1.0, name
        frac, heights = find_density_maxima(grid, cell.lattice)
        # one maximum per atom: the 1/4 positions gave no tied duplicates
        assert len(frac) == len(cell), name
        assert np.all(np.diff(heights) <= 0)
        dist = cell.lattice.get_all_distances(frac, cell.frac_coords)
        assert dist.min(axis=1).max() < 0.05, name  # sub-voxel refinement
    # a structure-free grid recovers nothing
    assert atom_recovery(np.zeros((20, 20, 20)), cell) == 0.0


def test_structure_match():
    s = _structures()
    match, rms = structure_match(
        s["NaCl"], s["NaCl"].get_primitive_structure()
    )
    assert match and rms == pytest.approx(0.0, abs=1e-6)
    moved = s["ZnS"].copy()
    moved.perturb(0.05)
    match, rms = structure_match(moved, s["ZnS"])
    assert match and 0 < rms < 0.1
    assert structure_match(s["NaCl"], s["CaF2"]) == (False, None)
