"""Shared fixtures.  Tests build their own data and read no external files."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded random generator, so failures reproduce."""
    return np.random.default_rng(20261121)
