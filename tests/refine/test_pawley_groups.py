"""Uncertainties of the coarse Pawley groups."""

from types import SimpleNamespace

import numpy as np

from diffpy.crystalnet.refine.pawley_model import _sum_groups


def test_a_fine_group_without_data_leaves_the_other_sigmas_known():
    # four fine groups; the last has no data points (NaN variance); the
    # coarse groups are {0, 1}, {2} and {3}
    model = SimpleNamespace(n_groups=4, group=np.arange(4))
    cov = np.diag([4.0, 9.0, 1.0, np.nan])
    cov[0, 1] = cov[1, 0] = 2.0
    inten, sigma = _sum_groups(
        model, np.array([0, 0, 1, 2]), np.array([1.0, 2.0, 3.0, 4.0]), cov
    )
    assert inten.tolist() == [3.0, 3.0, 4.0]
    assert np.allclose(sigma[:2], [np.sqrt(4 + 9 + 2 * 2), 1.0])
    assert np.isnan(sigma[2])
