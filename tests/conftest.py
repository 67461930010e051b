"""Shared fixtures.  Tests build their own data and read no external files."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded random generator, so failures reproduce."""
    return np.random.default_rng(20261121)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch work on one thread.

    Tiny models run fastest on one thread, and a second thread can stall for
    long when other processes load the cores.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
