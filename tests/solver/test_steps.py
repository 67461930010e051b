"""Unit tests of single solve steps (diffpy.crystalnet.solver.steps)."""

from types import SimpleNamespace

from pymatgen.core import Lattice

from diffpy.crystalnet.solver.steps import fit
from diffpy.crystalnet.solver.steps.lattice import _undominated


def _indexed(a, unindexed, rank):
    info = dict(origin="indexed", indexing_rank=rank, unindexed=unindexed)
    return Lattice.cubic(a), info


def test_a_larger_cell_that_misses_more_lines_is_dropped():
    best = _indexed(9.33, 0, 1)
    same_cell_p = _indexed(9.33, 0, 2)
    supercell_missing = _indexed(16.16, 2, 3)
    subcell_missing = _indexed(4.6, 2, 4)
    supercell_complete = _indexed(18.66, 0, 5)
    kept = _undominated(
        [best, same_cell_p, supercell_missing, subcell_missing,
         supercell_complete]
    )  # fmt: skip
    assert [info["indexing_rank"] for _, info in kept] == [1, 2, 4, 5]
    given = (Lattice.cubic(20.0), dict(origin="given"))
    assert _undominated([best, given]) == [best, given]


def test_hopeless_decoded_candidates_keep_their_quick_fit(monkeypatch):
    def candidate(rwp, steps):
        return SimpleNamespace(
            rwp=rwp, fit=object(), steps=list(steps), structure=None
        )

    isotype = candidate(0.05, ["isotypes", "fit"])
    close = candidate(0.08, ["network", "decode", "quick fit"])
    hopeless = candidate(0.5, ["network", "decode", "quick fit"])
    fitted = []
    monkeypatch.setattr(
        "diffpy.crystalnet.solver.fitting.full_fit",
        lambda cand, pattern: fitted.append(cand),
    )
    state = SimpleNamespace(
        decoded=[],
        candidates=[hopeless, isotype, close],
        pattern=None,
        settings=SimpleNamespace(
            rank=SimpleNamespace(fit=True, dedupe=False, fit_top=6)
        ),
    )
    fit.run(state)
    assert state.candidates == [isotype, close, hopeless]
    assert fitted == [close]
    assert fit.FULL_FIT_RATIO * isotype.rwp < hopeless.rwp


def test_equal_fits_are_ordered_by_simplicity():
    from pymatgen.core import Structure

    from diffpy.crystalnet.solver.ranking import prefer_simpler

    rocksalt = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    distorted = rocksalt.copy()
    distorted.translate_sites([0], [0.01, 0, 0])  # P1-like, 8 sites

    def cand(structure, rwp, number):
        return SimpleNamespace(
            structure=structure, rwp=rwp, spacegroup_number=number
        )

    p1 = cand(distorted, 0.0637, 1)
    simple = cand(rocksalt, 0.0638, 225)
    worse = cand(rocksalt.copy(), 0.09, 225)
    assert prefer_simpler([p1, simple, worse]) == [simple, p1, worse]
    # a clearly better fit stays first
    better = cand(distorted, 0.05, 1)
    assert prefer_simpler([better, simple]) == [better, simple]
    # a smaller cell of another formula (lost atoms) is not simpler
    lost = rocksalt.copy()
    lost.remove_species(["Cl"])
    assert prefer_simpler([p1, cand(lost, 0.0638, 225)])[0] is p1
