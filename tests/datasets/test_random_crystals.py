"""Tests for random pyxtal crystals
(diffpy.crystalnet.datasets.random_crystals)."""

import numpy as np
import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.datasets.decorate import passes_filters
from diffpy.crystalnet.datasets.random_crystals import (
    draw_one,
    random_composition,
    random_crystal,
    random_records,
)
from diffpy.crystalnet.datasets.records import SourceStats


def test_ionic_compositions_are_charge_balanced(rng):
    from pymatgen.core import Composition

    for _ in range(30):
        symbols, amounts = random_composition(rng, "ionic")
        comp = Composition(dict(zip(symbols, amounts)))
        assert comp.oxi_state_guesses(), comp
        assert np.gcd.reduce(amounts) == 1
    symbols, amounts = random_composition(rng, "intermetallic")
    assert 2 <= len(symbols) <= 3 and len(set(symbols)) == len(symbols)
    with pytest.raises(CrystalNetInputError):
        random_composition(rng, "organic")


def test_random_crystal_in_requested_group(rng):
    s = random_crystal(225, ["Na", "Cl"], [1, 1], rng, timeout=None)
    assert not isinstance(s, str), s
    analyzer = SpacegroupAnalyzer(s, symprec=0.01)
    assert analyzer.get_space_group_number() >= 225  # may gain symmetry
    assert analyzer.get_crystal_system() == "cubic"
    assert len(analyzer.find_primitive()) <= 20
    assert passes_filters(s) is None
    too_big = random_crystal(225, ["Na", "Cl"], [7, 5], rng, max_atoms=10)
    assert too_big == "formula unit larger than max_atoms"
    # Fd-3m has no site with fewer than 8 atoms in the conventional cell
    fd3m = random_crystal(227, ["Na", "Cl"], [1, 1], rng, max_atoms=2)
    assert fd3m == "no Wyckoff combination"


def test_stream_is_deterministic_and_bounded():
    kwargs = dict(space_groups=[221, 225, 166], max_atoms=12, timeout=None)
    stats = SourceStats()
    a = list(random_records(6, seed=5, stats=stats, **kwargs))
    b = list(random_records(6, seed=5, **kwargs))
    assert len(a) >= 2
    assert stats.yielded + sum(stats.skipped.values()) == 6
    assert [r.id for r in a] == [r.id for r in b]
    for ra, rb in zip(a, b):
        assert ra.structure.composition == rb.structure.composition
        np.testing.assert_allclose(
            ra.structure.frac_coords, rb.structure.frac_coords
        )
        assert ra.source == "pyxtal" and ra.parent is None
        prim = SpacegroupAnalyzer(ra.structure, 0.01).find_primitive()
        assert len(prim) <= 12
    again = draw_one(a[0].seed, [221, 225, 166], max_atoms=12, timeout=None)
    np.testing.assert_allclose(
        again.lattice.matrix, a[0].structure.lattice.matrix
    )
    with pytest.raises(CrystalNetInputError):
        list(random_records(1, space_groups=[300]))


def test_work_limit_is_a_count_not_a_time():
    from pyxtal.symmetry import Wyckoff_position

    merge = Wyckoff_position.merge
    args = (225, ["Na", "Cl"], [1, 1])
    # NaCl needs one Wyckoff placement per element: two at least
    out = random_crystal(*args, np.random.default_rng(3), max_placements=1)
    assert out == "pyxtal gave up (Wyckoff placement budget spent)"
    assert Wyckoff_position.merge is merge
    again = random_crystal(*args, np.random.default_rng(3), max_placements=1)
    assert again == out
    s = random_crystal(*args, np.random.default_rng(3))
    assert not isinstance(s, str), s


def test_lighter_placements_keep_the_crystals(monkeypatch):
    import contextlib

    import pyxtal.symmetry as symmetry

    from diffpy.crystalnet.datasets import random_crystals

    check, copy = symmetry.check_images, symmetry.Wyckoff_position.copy
    kwargs = dict(space_groups=[62, 166, 216], max_atoms=16, timeout=None)
    fast = list(random_records(5, seed=11, **kwargs))
    assert symmetry.check_images is check
    assert symmetry.Wyckoff_position.copy is copy
    monkeypatch.setattr(
        random_crystals, "_lighter_placements", contextlib.nullcontext
    )
    plain = list(random_records(5, seed=11, **kwargs))
    assert len(fast) >= 2 and [r.id for r in fast] == [r.id for r in plain]
    for a, b in zip(fast, plain):
        assert a.structure == b.structure
