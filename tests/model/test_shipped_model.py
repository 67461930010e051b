"""The default model shipped inside the package (when there is one)."""

import numpy as np
import pytest

from diffpy.crystalnet.model.checkpoint import default_model_path, load_model

pytestmark = pytest.mark.skipif(
    not default_model_path().is_file(), reason="no default model shipped"
)


def test_shipped_model_loads_safely_and_predicts():
    model = load_model()  # torch.load(..., weights_only=True) inside
    assert not model.training
    size = default_model_path().stat().st_size
    assert size <= 40 * 2**20
    card = default_model_path().with_name("MODEL_CARD.rst")
    assert card.is_file() and "Training data" in card.read_text()
    pattern = np.zeros(1024, dtype=np.float32)
    pattern[[100, 180, 300]] = [1.0, 0.5, 0.3]
    composition = np.zeros(118, dtype=np.float32)
    composition[[10, 16]] = 0.5  # NaCl
    grids = model.predict_grid(pattern, composition, n=12, samples=2, seed=1)
    assert grids.shape == (2, 12, 12, 12)
    assert np.all(np.isfinite(grids)) and grids.max() > 0
    again = model.predict_grid(pattern, composition, n=12, samples=2, seed=1)
    np.testing.assert_array_equal(grids, again)
