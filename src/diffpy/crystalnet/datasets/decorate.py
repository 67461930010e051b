"""Decorate prototype structures with chemically sensible substitutions.

A *decoration* keeps the geometry of a parent structure (a prototype from
the AFLOW library or any real crystal) and replaces its elements, then
rescales the cell to the volume the new elements need.  How species are
chosen depends on the parent:

Ionic parents
    When pymatgen finds integer oxidation states for the parent's formula
    (``Composition.oxi_state_guesses``), each species (``Na+``, ``Cl-``) is
    replaced by an ion drawn with the data-mined substitution probabilities
    of Hautier et al. (pymatgen's
    :class:`~pymatgen.analysis.structure_prediction.substitution_probability.SubstitutionProbability`,
    the probability of the new ion given the old one), restricted to ions of
    the same sign of charge.  A draw is kept only when the new formula is
    charge balanced, so charge-changing pairs (``Ca2+ Ti4+`` to
    ``La3+ Al3+``) appear when they balance.
Intermetallic (and mixed-valence) parents
    Every element is swapped for an element of the same class (alkali,
    alkaline earth, early / middle / late transition metal, coinage and
    zinc group, rare earth, triel, tetrel, pnictogen, chalcogen, halogen)
    whose atomic radius is within ``radius_tolerance`` of the original.

Different species of the parent always get different elements, at least one
element changes, and only elements up to Bi plus Th and U are used (no
noble gases, Tc, Pm or short-lived radioactive elements).

Volume
    The new cell volume is predicted by :func:`predict_volume`.  The
    default (``volume="auto"``) uses pymatgen's ``RLSVolumePredictor``
    with ionic radii for ionic parents (the parent's real volume times the
    cube of the ratio of summed radii) and the ``DLSVolumePredictor``
    (data-mined bond lengths) for the others.  Measured on 5048 ordered
    pairs of real isostructural MP-20 crystals
    (``benchmarks/volume_predictors.py``), median (90th percentile) volume
    errors: ionic pairs (640) RLS-ionic 10.0 % (37 %), DLS 20.6 % (80 %);
    other pairs (4408) DLS 6.7 % (18 %), RLS 12.1 % (35 %); keeping the
    parent's volume 31 % (104 %).
Filters
    A decoration is rejected when two atoms are closer than
    ``min_distance_factor`` times the sum of their covalent radii (0.75 by
    default: the smallest such ratio in real Materials Project structures of
    MP-20 is 0.72, the 1st percentile 0.76), when an ionic formula is not
    charge balanced, or when the parent's primitive cell has more than
    ``max_atoms`` atoms.

Every draw comes from the numpy ``Generator`` passed in, so a seed
reproduces a decoration; :func:`decorate_records` gives every decorated
record its own seed (stored in the record) and records the parent's
``"<source>:<id>"`` for leak-free data splits.
"""

import hashlib
import logging
import warnings
from functools import lru_cache

import numpy as np

from diffpy.crystalnet.datasets.records import SourceStats, StructureRecord
from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "ELEMENT_CLASSES",
    "Decorator",
    "decorate_records",
    "passes_filters",
    "predict_volume",
]

log = logging.getLogger(__name__)

#: element classes for substitutions in intermetallic parents
ELEMENT_CLASSES = {
    "alkali": "Li Na K Rb Cs",
    "alkaline earth": "Be Mg Ca Sr Ba",
    "early transition metal": "Sc Y Ti Zr Hf V Nb Ta",
    "middle transition metal": "Cr Mo W Mn Re Fe Ru Os",
    "late transition metal": "Co Rh Ir Ni Pd Pt",
    "coinage and zinc group": "Cu Ag Au Zn Cd Hg",
    "rare earth": "La Ce Pr Nd Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Th U",
    "triel": "B Al Ga In Tl",
    "tetrel": "C Si Ge Sn Pb",
    "pnictogen": "N P As Sb Bi",
    "chalcogen": "O S Se Te",
    "halogen": "F Cl Br I",
    "hydrogen": "H",
}

_ALLOWED = frozenset(" ".join(ELEMENT_CLASSES.values()).split())

#: default minimum distance as a fraction of the sum of covalent radii
MIN_DISTANCE_FACTOR = 0.75
#: default largest number of atoms in the parent's primitive cell
MAX_ATOMS = 20


def _stable_int(text):
    """A 32-bit integer from a string, the same in every run."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


@lru_cache(maxsize=None)
def _covalent_radius(symbol):
    from pymatgen.analysis.molecule_structure_comparator import (
        CovalentRadius,
    )
    from pymatgen.core import Element

    radius = CovalentRadius.radius.get(symbol)
    if radius is None:
        radius = Element(symbol).atomic_radius or 1.5
    return float(radius)


@lru_cache(maxsize=None)
def _substitution_table():
    """Ions of the lambda table grouped by sign, and the probability model."""
    from pymatgen.analysis.structure_prediction.substitution_probability import (  # noqa: E501
        SubstitutionProbability,
    )

    model = SubstitutionProbability()
    ions = sorted(
        (sp for sp in model.species if sp.symbol in _ALLOWED and sp.oxi_state),
        key=str,
    )
    return model, ions


@lru_cache(maxsize=4096)
def _ion_candidates(ion):
    """Ions that may replace ``ion`` and their probabilities (sum 1)."""
    model, ions = _substitution_table()
    same_sign = [
        t for t in ions if np.sign(t.oxi_state) == np.sign(ion.oxi_state)
    ]
    if ion not in model.species:
        return (), np.zeros(0)
    weights = np.array([model.cond_prob(t, ion) for t in same_sign])
    keep = weights > 1e-6 * weights.max()
    cands = tuple(t for t, k in zip(same_sign, keep) if k)
    weights = weights[keep]
    return cands, weights / weights.sum()


@lru_cache(maxsize=None)
def _element_candidates(symbol, radius_tolerance):
    """Elements of the same class with a similar atomic radius."""
    from pymatgen.core import Element

    r0 = Element(symbol).atomic_radius
    for members in ELEMENT_CLASSES.values():
        members = members.split()
        if symbol in members:
            break
    else:
        return (symbol,)
    out = []
    for other in members:
        r = Element(other).atomic_radius
        if r0 is None or r is None or abs(r / r0 - 1) <= radius_tolerance:
            out.append(other)
    return tuple(out)


@lru_cache(maxsize=2048)
def _oxidation_guess(reduced_formula):
    """Integer oxidation states of an ionic formula, or None."""
    from pymatgen.core import Composition

    comp = Composition(reduced_formula)
    if len(comp) < 2:
        return None
    try:
        guesses = comp.oxi_state_guesses(max_sites=-50)
    except Exception:
        return None
    if not guesses:
        return None
    guess = guesses[0]
    values = list(guess.values())
    if any(abs(v - round(v)) > 1e-8 for v in values):
        return None
    if not (min(values) < 0 < max(values)):
        return None
    return {el: int(round(v)) for el, v in guess.items()}


def predict_volume(structure, reference, method="dls"):
    """Predict the volume of a decorated structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The decorated structure (species with or without oxidation states).
    reference : pymatgen.core.Structure
        The parent it was made from, in the same cell and with the parent's
        real volume.
    method : {"dls", "rls", "radii", "none"}
        ``"rls"``: pymatgen ``RLSVolumePredictor`` (ionic radii where both
        structures carry oxidation states, else atomic radii);
        ``"dls"``: pymatgen ``DLSVolumePredictor`` (data-mined bond
        lengths, independent of the reference); ``"radii"``: the
        reference volume times the ratio of summed atomic-radius cubes;
        ``"none"``: the reference volume.

    Returns
    -------
    float
        Volume in cubic angstrom for ``structure``'s cell.
    """
    from pymatgen.analysis.structure_prediction.volume_predictor import (
        DLSVolumePredictor,
        RLSVolumePredictor,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "rls":
            predictor = RLSVolumePredictor(
                check_isostructural=False, use_bv=False
            )
            return float(predictor.predict(structure, reference))
        if method == "dls":
            return float(DLSVolumePredictor().predict(structure))
        if method == "radii":

            def cubes(s):
                return sum(
                    (
                        sp.element if hasattr(sp, "element") else sp
                    ).atomic_radius
                    ** 3
                    for sp in s.species
                )

            return float(
                reference.volume * cubes(structure) / cubes(reference)
            )
        if method == "none":
            return float(reference.volume)
    raise CrystalNetInputError(
        f"unknown volume method {method!r}; use rls, dls, radii or none",
        "volume",
    )


def min_distance_ratio(structure):
    """Smallest interatomic distance over the sum of covalent radii.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        An ordered structure.

    Returns
    -------
    float
        ``min d_ij / (r_i + r_j)`` over all pairs including periodic images
        (``inf`` for isolated atoms beyond the search radius).
    """
    symbols = [getattr(sp, "symbol", str(sp)) for sp in structure.species]
    radii = np.array([_covalent_radius(s) for s in symbols])
    cutoff = 2.0 * radii.max()
    centers, neighbors, _, distances = structure.get_neighbor_list(cutoff)
    if len(distances) == 0:
        return float("inf")
    return float(np.min(distances / (radii[centers] + radii[neighbors])))


def passes_filters(
    structure, min_distance_factor=MIN_DISTANCE_FACTOR, charge_balance=True
):
    """Check a decorated structure for physical sense.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure.
    min_distance_factor : float, optional
        Smallest allowed interatomic distance as a fraction of the sum of
        the two covalent radii (Cordero et al., as in pymatgen).
    charge_balance : bool, optional
        When the species carry oxidation states, require their sum to be
        zero.

    Returns
    -------
    str or None
        None when the structure passes, else the reason it fails.
    """
    if not structure.is_ordered:
        return "disordered"
    ratio = min_distance_ratio(structure)
    if ratio < min_distance_factor:
        return f"atoms too close ({ratio:.2f} of covalent radii)"
    if charge_balance:
        charges = [getattr(sp, "oxi_state", None) for sp in structure.species]
        if all(c is not None for c in charges) and any(charges):
            if abs(sum(charges)) > 1e-6:
                return "not charge balanced"
    return None


class Decorator:
    """Draws decorations of one parent structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The parent (ordered).
    max_atoms : int, optional
        Largest number of atoms in the parent's primitive cell.
    volume : str, optional
        ``"auto"`` (``"rls"`` for ionic parents, ``"dls"`` otherwise) or a
        method of :func:`predict_volume`.
    min_distance_factor : float, optional
        See :func:`passes_filters`.
    radius_tolerance : float, optional
        Largest relative difference of atomic radius in element-class swaps.
    max_tries : int, optional
        Draws tried per decoration before giving up.
    symprec : float, optional
        Tolerance for the primitive cell.

    Attributes
    ----------
    mode : str
        ``"ionic"`` or ``"intermetallic"``.
    oxidation_states : dict or None
        Element symbol -> oxidation state of the parent (ionic mode).

    Raises
    ------
    CrystalNetInputError
        A disordered parent, or one whose primitive cell is too large.
    """

    def __init__(
        self,
        structure,
        max_atoms=MAX_ATOMS,
        volume="auto",
        min_distance_factor=MIN_DISTANCE_FACTOR,
        radius_tolerance=0.2,
        max_tries=50,
        symprec=0.01,
    ):
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        if not structure.is_ordered:
            raise CrystalNetInputError(
                "cannot decorate a disordered structure", "structure"
            )
        parent = structure.copy()
        parent.remove_oxidation_states()
        n_prim = len(
            SpacegroupAnalyzer(parent, symprec=symprec).find_primitive()
            or parent
        )
        if max_atoms is not None and n_prim > max_atoms:
            raise CrystalNetInputError(
                f"{n_prim} atoms in the primitive cell > {max_atoms}",
                "structure",
            )
        self.min_distance_factor = min_distance_factor
        self.radius_tolerance = radius_tolerance
        self.max_tries = max_tries
        self.elements = list(dict.fromkeys(sp.symbol for sp in parent.species))
        self.oxidation_states = _oxidation_guess(
            parent.composition.reduced_formula
        )
        self.mode = "ionic" if self.oxidation_states else "intermetallic"
        if self.mode == "ionic":
            parent.add_oxidation_state_by_element(self.oxidation_states)
        if volume == "auto":
            volume = "rls" if self.mode == "ionic" else "dls"
        self.volume = volume
        self.parent = parent
        self._counts = parent.composition.element_composition

    def _draw_mapping(self, rng):
        """One candidate mapping old element -> new species (or None)."""
        from pymatgen.core import Element, Species

        mapping = {}
        if self.mode == "ionic":
            for symbol in self.elements:
                ion = Species(symbol, self.oxidation_states[symbol])
                cands, weights = _ion_candidates(ion)
                if not cands:
                    mapping[symbol] = ion
                    continue
                mapping[symbol] = cands[int(rng.choice(len(cands), p=weights))]
            charge = sum(
                mapping[s].oxi_state * self._counts[Element(s)]
                for s in self.elements
            )
            if abs(charge) > 1e-6:
                return None
        else:
            for symbol in self.elements:
                cands = _element_candidates(symbol, self.radius_tolerance)
                mapping[symbol] = Element(cands[int(rng.integers(len(cands)))])
        new = [getattr(sp, "symbol", str(sp)) for sp in mapping.values()]
        if len(set(new)) < len(new) or new == self.elements:
            return None
        return mapping

    def draw(self, rng):
        """Draw one decoration.

        Parameters
        ----------
        rng : numpy.random.Generator
            The random generator (all randomness comes from it).

        Returns
        -------
        pymatgen.core.Structure or None
            The decorated structure (species without oxidation states),
            or None when ``max_tries`` draws all failed.
        """
        for _ in range(self.max_tries):
            mapping = self._draw_mapping(rng)
            if mapping is None:
                continue
            new = self.parent.copy()
            if self.mode == "ionic":
                old = {
                    sp: mapping[sp.symbol] for sp in self.parent.composition
                }
            else:
                old = {
                    el: mapping[el.symbol] for el in self.parent.composition
                }
            new.replace_species(old)
            try:
                volume = predict_volume(new, self.parent, self.volume)
            except Exception as exc:  # missing radii and the like
                log.debug("volume prediction failed: %s", exc)
                continue
            if not np.isfinite(volume) or volume <= 0:
                continue
            new.scale_lattice(volume)
            if passes_filters(new, self.min_distance_factor) is not None:
                continue
            new.remove_oxidation_states()
            return new
        return None


def decorate_records(
    records,
    n_per_parent=10,
    seed=0,
    stats=None,
    **options,
):
    """Decorate every record of a stream.

    Parameters
    ----------
    records : iterable of StructureRecord
        Parents (AFLOW prototypes, real structures, ...).
    n_per_parent : int, optional
        Decorations tried per parent; duplicates (same formula from the
        same parent) and failed draws are dropped, so a parent may give
        fewer.
    seed : int, optional
        Master seed.  Decoration ``k`` of a parent uses the seed
        ``SeedSequence([seed, hash(parent key), k])`` (stored in the
        record), so it can be reproduced alone::

            Decorator(parent).draw(np.random.default_rng(record.seed))
    stats : SourceStats, optional
        Counts yielded and skipped decorations and parents.
    **options
        Passed to :class:`Decorator` (``volume``, ``max_atoms``,
        ``min_distance_factor``, ``radius_tolerance``, ``max_tries``).

    Yields
    ------
    StructureRecord
        ``source`` ``"decorate"``, ``id`` ``"<parent key>><formula>"``,
        ``parent`` the parent's ``"<source>:<id>"`` (or the parent's own
        parent when it was itself generated), ``seed`` as above.
    """
    stats = SourceStats() if stats is None else stats
    for record in records:
        parent_key = record.parent or record.key
        try:
            decorator = Decorator(record.structure, **options)
        except CrystalNetInputError as exc:
            stats.skip(record.source, record.id, f"parent: {exc.problem}")
            continue
        except Exception as exc:
            stats.skip(record.source, record.id, f"parent failed: {exc}")
            continue
        seen = set()
        for k in range(n_per_parent):
            child_seed = int(
                np.random.SeedSequence(
                    [seed, _stable_int(record.key), k]
                ).generate_state(1)[0]
            )
            try:
                new = decorator.draw(np.random.default_rng(child_seed))
            except Exception as exc:
                stats.skip(record.source, record.id, f"draw failed: {exc}")
                continue
            if new is None:
                stats.skipped["no valid decoration"] += 1
                continue
            formula = new.composition.reduced_formula
            if formula in seen:
                stats.skipped["duplicate decoration"] += 1
                continue
            seen.add(formula)
            stats.yielded += 1
            yield StructureRecord(
                new,
                "decorate",
                f"{record.key}>{formula}",
                parent=parent_key,
                seed=child_seed,
            )
