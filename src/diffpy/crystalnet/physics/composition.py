"""Composition priors: chemical formulas as 118-element vectors.

CrystalNet conditions its density prediction on the composition of the
crystal, given as a vector of 118 atom fractions (index ``Z - 1``) that sum to
one.  The paper's ablations weaken this prior; :func:`composition_vector`
implements all of them through ``mode``:

``"full"``
    The atom fractions of the formula (``H2O`` gives H 2/3, O 1/3).  A formula
    and any multiple of it (``CeO2``, ``Ce4O8``) give the same vector.
``"elements"``
    Only which elements are present: each present element gets the equal
    weight ``1 / n_elements`` (``H2O`` gives H 1/2, O 1/2).
``"drop"``
    One element is removed (``drop="O"``, or one chosen at random with
    ``rng``) and the remaining fractions are renormalised to sum to one.  A
    formula with a single element gives the all-zero vector.
``"none"``
    No prior: the all-zero vector.

What a formula may contain
--------------------------
Anything pymatgen's :class:`~pymatgen.core.Composition` reads: integer or
fractional amounts and brackets (``Ba(Fe0.9Co0.1)2As2``).  Oxidation states
written after a symbol (``Fe2+``, ``Fe3+2O2-3``, ``O-2``) are removed.  Every
symbol must be a real element (Z <= 118); pymatgen silently turns unknown
symbols such as ``Xx`` into dummy species, which are refused here.  Deuterium
``D`` and tritium ``T`` are read as hydrogen (pymatgen's convention): X-ray
scattering does not distinguish isotopes.
"""

import re
from fractions import Fraction
from math import lcm

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "MODES",
    "N_ELEMENTS",
    "composition_vector",
    "integer_formula",
    "parse_formula",
    "vector_to_formula",
]

#: number of elements in the composition vector (H ... Og)
N_ELEMENTS = 118

#: the composition-prior modes of :func:`composition_vector`
MODES = ("full", "elements", "drop", "none")

# an element symbol followed by a charge, "Fe2+", "O2-", "Fe+2", "O-", "Fe+3"
_CHARGE = re.compile(r"([A-Z][a-z]?)(?:\d+(?:\.\d+)?[+-]|[+-]\d*(?:\.\d+)?)")


def _strip_charges(text):
    """Remove oxidation states written after element symbols."""
    return _CHARGE.sub(r"\1", text)


def _validated(composition, source):
    """Return a Composition of real elements only, or raise."""
    from pymatgen.core import DummySpecies, Element, Species

    amounts = {}
    for species, amount in composition.items():
        if isinstance(species, DummySpecies):
            symbol = getattr(species, "symbol", str(species))
            raise CrystalNetInputError(
                f"{symbol!r} is not a chemical element", source
            )
        if isinstance(species, Species):
            element = species.element
        elif isinstance(species, Element):
            element = species
        else:  # DummySpecies and anything else pymatgen lets through
            raise CrystalNetInputError(
                f"{str(species)!r} is not a chemical element", source
            )
        if element.Z < 1 or element.Z > N_ELEMENTS:
            raise CrystalNetInputError(
                f"element {element} (Z = {element.Z}) is outside 1-118",
                source,
            )
        if not np.isfinite(amount) or amount < 0:
            raise CrystalNetInputError(
                f"amount of {element} must be a finite number >= 0, "
                f"got {amount}",
                source,
            )
        amounts[element] = amounts.get(element, 0.0) + float(amount)
    amounts = {el: a for el, a in amounts.items() if a > 0}
    if not amounts:
        raise CrystalNetInputError("the formula contains no atoms", source)
    from pymatgen.core import Composition

    return Composition(amounts)


def parse_formula(formula):
    """Read a chemical formula into a validated pymatgen Composition.

    Parameters
    ----------
    formula : str or pymatgen.core.Composition or dict
        The formula as a user types it (``"CeO2"``, ``"Ce4O8"``,
        ``"Ba(Fe0.9Co0.1)2As2"``, ``"Fe3+2O2-3"``), a pymatgen Composition,
        or a mapping ``{symbol or Element or Species: amount}``.

    Returns
    -------
    pymatgen.core.Composition
        Composition of :class:`~pymatgen.core.Element` (oxidation states
        removed), amounts as given (not reduced).

    Raises
    ------
    CrystalNetInputError
        Empty or unreadable formula, unknown element symbols, negative or
        non-finite amounts.
    """
    from pymatgen.core import Composition

    source = "formula"
    if isinstance(formula, Composition):
        comp = formula
    elif isinstance(formula, dict):
        if not formula:
            raise CrystalNetInputError("the formula contains no atoms", source)
        items = {}
        for key, amount in formula.items():
            if isinstance(key, str):
                key = _strip_charges(key.strip())
            try:
                amount = float(amount)
            except (TypeError, ValueError):
                raise CrystalNetInputError(
                    f"amount of {key} is not a number: {amount!r}", source
                ) from None
            items[key] = items.get(key, 0.0) + amount
        try:
            comp = Composition(items, strict=False)
        except (ValueError, KeyError, TypeError) as exc:
            raise CrystalNetInputError(
                f"cannot read {formula!r}: {exc}", source
            ) from None
    elif isinstance(formula, str):
        text = formula.strip()
        if not text:
            raise CrystalNetInputError("the formula is empty", source)
        text = _strip_charges(text)
        try:
            comp = Composition(text, strict=False)
        except (ValueError, KeyError, TypeError) as exc:
            raise CrystalNetInputError(
                f"cannot read formula {formula!r}: {exc}", source
            ) from None
    else:
        raise CrystalNetInputError(
            "expected a formula string, a pymatgen Composition or a dict, "
            f"got {type(formula).__name__}",
            source,
        )
    return _validated(comp, f"formula {formula!r}")


def _as_rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def composition_vector(formula, mode="full", drop=None, rng=None):
    """Return the composition prior of a formula as a 118-vector.

    Parameters
    ----------
    formula : str or pymatgen.core.Composition or dict
        The formula, as accepted by :func:`parse_formula`.
    mode : {"full", "elements", "drop", "none"}
        ``"full"``: atom fractions; ``"elements"``: equal weight
        ``1 / n_elements`` on each element present; ``"drop"``: one element
        removed and the rest renormalised; ``"none"``: all zeros.
    drop : str, optional
        Only for ``mode="drop"``: the element symbol to drop.  When not
        given, one element present in the formula is drawn with ``rng``.
    rng : numpy.random.Generator or int, optional
        Random generator (or seed) for the element to drop.

    Returns
    -------
    numpy.ndarray
        Float array of shape ``(118,)``; entry ``Z - 1`` is the weight of
        element ``Z``.  Sums to 1 except in mode ``"none"`` (and ``"drop"``
        on a single-element formula), where it is all zeros.

    Raises
    ------
    CrystalNetInputError
        Bad formula, unknown mode, or ``drop`` naming an element that is not
        in the formula.

    Examples
    --------
    >>> v = composition_vector("H2O")
    >>> print(round(v[0], 3), round(v[7], 3))
    0.667 0.333
    """
    if mode not in MODES:
        raise CrystalNetInputError(
            f"unknown composition mode {mode!r}; use one of {MODES}", "mode"
        )
    if drop is not None and mode != "drop":
        raise CrystalNetInputError(
            f"drop={drop!r} is only used with mode='drop'", "drop"
        )
    comp = parse_formula(formula)
    vector = np.zeros(N_ELEMENTS, dtype=float)
    if mode == "none":
        return vector
    amounts = {el.Z: float(a) for el, a in comp.items()}
    if mode == "elements":
        amounts = dict.fromkeys(amounts, 1.0)
    elif mode == "drop":
        if drop is not None:
            from pymatgen.core import Element

            try:
                z = Element(_strip_charges(str(drop).strip())).Z
            except (ValueError, KeyError):
                raise CrystalNetInputError(
                    f"{drop!r} is not a chemical element", "drop"
                ) from None
            if z not in amounts:
                raise CrystalNetInputError(
                    f"{drop} is not in the formula {comp.reduced_formula}",
                    "drop",
                )
        else:
            zs = sorted(amounts)
            z = zs[int(_as_rng(rng).integers(len(zs)))]
        del amounts[z]
        if not amounts:
            return vector
    total = sum(amounts.values())
    for z, amount in amounts.items():
        vector[z - 1] = amount / total
    return vector


def vector_to_formula(vector, max_denominator=48, tol=1e-4):
    """Write a composition vector as a readable formula.

    Fractions that are close to ratios of small integers are written as an
    integer formula (``[2/3 H, 1/3 O]`` gives ``"H2O"``); otherwise the
    fractions are written with four decimals.

    Parameters
    ----------
    vector : array_like
        Shape ``(118,)``, non-negative weights indexed by ``Z - 1``; need not
        be normalised.
    max_denominator : int, optional
        Largest denominator tried when looking for an integer formula.
    tol : float, optional
        Largest absolute difference between a normalised fraction and its
        rational approximation for the integer formula to be used.

    Returns
    -------
    str
        The reduced formula in pymatgen's order, or ``""`` for the all-zero
        vector.

    Raises
    ------
    CrystalNetInputError
        Wrong shape, negative or non-finite entries.
    """
    from pymatgen.core import Composition, Element

    vec = np.asarray(vector, dtype=float)
    if vec.shape != (N_ELEMENTS,):
        raise CrystalNetInputError(
            f"expected shape ({N_ELEMENTS},), got {vec.shape}", "vector"
        )
    if not np.all(np.isfinite(vec)) or np.any(vec < 0):
        raise CrystalNetInputError(
            "entries must be finite and not negative", "vector"
        )
    total = vec.sum()
    if total == 0:
        return ""
    fractions = vec / total
    present = np.flatnonzero(fractions > 0)
    approx = [
        Fraction(float(fractions[i])).limit_denominator(max_denominator)
        for i in present
    ]
    if all(
        abs(float(a) - fractions[i]) <= tol and a > 0
        for a, i in zip(approx, present)
    ):
        denom = lcm(*(a.denominator for a in approx))
        amounts = {
            Element.from_Z(int(i) + 1): int(a * denom)
            for a, i in zip(approx, present)
        }
        return Composition(amounts).reduced_formula
    amounts = {
        Element.from_Z(int(i) + 1): round(float(fractions[i]), 4)
        for i in present
    }
    return Composition(amounts).formula.replace(" ", "")


def integer_formula(composition, max_multiple=48):
    """The smallest integer formula of a composition.

    The one algorithm of the package: the smallest multiple (up to
    ``max_multiple``) that makes every amount an integer within 1e-3,
    divided by the greatest common divisor.  ``Ce4O8`` and ``Ce0.333O0.667``
    both give ``{"Ce": 1, "O": 2}``.

    Parameters
    ----------
    composition : str or pymatgen.core.Composition or dict
        A formula or composition (see :func:`parse_formula`).
    max_multiple : int, optional
        Largest multiple tried.

    Returns
    -------
    dict
        Element symbol -> integer amount per formula unit.

    Raises
    ------
    CrystalNetInputError
        When no multiple up to ``max_multiple`` gives integers.

    Examples
    --------
    >>> integer_formula("Ce4O8")
    {'Ce': 1, 'O': 2}
    """
    comp = parse_formula(composition)
    amounts = {el.symbol: float(a) for el, a in comp.items()}
    for mult in range(1, max_multiple + 1):
        scaled = {k: v * mult for k, v in amounts.items()}
        if all(abs(v - round(v)) < 1e-3 for v in scaled.values()):
            ints = {k: int(round(v)) for k, v in scaled.items()}
            g = np.gcd.reduce(list(ints.values()))
            return {k: int(v // g) for k, v in ints.items()}
    raise CrystalNetInputError(
        f"the formula {composition!r} has no small integer ratio",
        "composition",
    )
