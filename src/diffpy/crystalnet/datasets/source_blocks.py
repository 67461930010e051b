"""Structure sources cut into reproducible blocks for the dataset builder.

The builder asks a source for block ``j`` with a seed and gets a list of
*recipes*; worker processes turn each recipe into a structure with
:meth:`realize` (so the expensive generation runs in parallel) and then
compute the pattern and density.  Source specifications, as given to
``diffpy.crystalnet dataset build --source``:

``prototypes``
    Decorations of the AFLOW prototypes bundled with pymatgen (of the
    requested crystal systems): each recipe picks a parent prototype and a
    decoration seed (:class:`~diffpy.crystalnet.datasets.decorate.Decorator`).
``decorate:PATH``
    The same, decorating the structures of a CIF file/folder, CSV or JSON.
``random``
    Symmetric random crystals (pyxtal) in the space groups of the requested
    crystal systems (:mod:`~diffpy.crystalnet.datasets.random_crystals`).
``PATH``
    The structures of a CIF file or folder, a CSV with a ``cif`` column or
    a pymatgen JSON file, as they are.

A specification may end in ``*W`` with ``0 < W <= 1`` (e.g. ``random*0.25``):
that source's blocks then hold ``W`` times the usual number of records, to
give a slow or less wanted source a smaller share of the dataset.

Generated sources never run out; a file source yields ``None`` once its
records are used up.
"""

import itertools
import logging
import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "block_records",
    "DecoratedSource",
    "FileSource",
    "RandomSource",
    "make_source",
    "space_groups_of",
]

log = logging.getLogger(__name__)


def block_records(source, block_size):
    """Records per block of ``source`` (its weight times ``block_size``)."""
    return max(1, math.ceil(block_size * getattr(source, "weight", 1.0)))


def space_groups_of(systems):
    """Return the space-group numbers of the given crystal systems."""
    from diffpy.crystalnet.physics.lattice import SPACE_GROUP_RANGES as SYSTEMS

    groups = []
    for name in systems:
        first, last = SYSTEMS[name]
        groups.extend(range(first, last + 1))
    return tuple(sorted(groups))


class FileSource:
    """Real structures from a file or folder, used as they are.

    Parameters
    ----------
    spec : str
        Path of a CIF file or folder, CSV or JSON file.
    """

    def __init__(self, spec):
        from diffpy.crystalnet.datasets.sources import read_source

        self.spec = str(spec)
        self.name = self.spec
        read_source(self.spec)  # fail early on a missing/unknown source
        self._stream = None
        self._next = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_stream"], state["_next"] = None, 0
        return state

    def block(self, j, size, seed):
        """Records ``j*size .. (j+1)*size - 1``, or None past the end."""
        from diffpy.crystalnet.datasets.sources import read_source

        if self._stream is None or j != self._next:
            self._stream = iter(read_source(self.spec))
            skip = j * size
            for _ in itertools.islice(self._stream, skip):
                pass
        self._next = j + 1
        records = list(itertools.islice(self._stream, size))
        return records or None

    def realize(self, recipe):
        """A file record is already a structure record."""
        return recipe


class DecoratedSource:
    """Decorations of parent structures (prototypes or a structure file).

    Parameters
    ----------
    parents : list of StructureRecord
        The parents.
    name : str
        Name recorded in the manifest.
    max_atoms : int
        Size limit passed to the decorator.
    """

    def __init__(self, parents, name, max_atoms=20):
        if not parents:
            raise CrystalNetInputError(
                "no parent structures to decorate", name
            )
        self.parents = list(parents)
        self.name = name
        self.max_atoms = max_atoms

    def __getstate__(self):
        return dict(self.__dict__)

    def block(self, j, size, seed):
        """``size`` recipes ``(parent index, decoration seed)``."""
        rng = np.random.default_rng(seed)
        parents = rng.integers(len(self.parents), size=size)
        seeds = rng.integers(0, 2**63 - 1, size=size)
        return [(int(p), int(s)) for p, s in zip(parents, seeds)]

    @lru_cache(maxsize=512)
    def _decorator(self, index):
        from diffpy.crystalnet.datasets.decorate import Decorator

        return Decorator(
            self.parents[index].structure, max_atoms=self.max_atoms
        )

    def __hash__(self):
        return id(self)

    def realize(self, recipe):
        """Draw the decoration; returns a record or a skip reason."""
        from diffpy.crystalnet.datasets.records import StructureRecord

        index, seed = recipe
        parent = self.parents[index]
        try:
            decorator = self._decorator(index)
        except CrystalNetInputError as error:
            return f"parent not decorable: {error.problem}"
        structure = decorator.draw(np.random.default_rng(seed))
        if structure is None:
            return "no valid decoration"
        formula = structure.composition.reduced_formula
        return StructureRecord(
            structure,
            self.name,
            f"{parent.key}>{formula}",
            # the parent's id, not its path: splits must not depend on
            # where the input files are (see dataset_builder)
            parent=parent.parent or parent.id,
            seed=seed,
        )


class RandomSource:
    """Symmetric random crystals (pyxtal).

    Parameters
    ----------
    space_groups : sequence of int
        Space groups drawn uniformly.
    max_atoms : int
        Largest number of atoms in the primitive cell.
    kind : str
        Composition kind (see
        :func:`~diffpy.crystalnet.datasets.random_crystals.random_composition`).
    """

    name = "random"

    def __init__(self, space_groups, max_atoms=20, kind="mixed"):
        self.space_groups = tuple(space_groups)
        self.max_atoms = max_atoms
        self.kind = kind

    def block(self, j, size, seed):
        """``size`` attempt seeds."""
        rng = np.random.default_rng(seed)
        return [int(s) for s in rng.integers(0, 2**63 - 1, size=size)]

    def realize(self, recipe):
        """Build the crystal of one seed; returns a record or a reason."""
        from diffpy.crystalnet.datasets.random_crystals import draw_one
        from diffpy.crystalnet.datasets.records import StructureRecord

        result = draw_one(recipe, self.space_groups, self.kind, self.max_atoms)
        if isinstance(result, str):
            return result
        return StructureRecord(result, "pyxtal", str(recipe), seed=recipe)


def make_source(spec, settings):
    """Open a source from its command-line specification.

    Parameters
    ----------
    spec : str
        ``prototypes``, ``random``, ``decorate:PATH`` or a path, optionally
        followed by ``*W`` (a block-size weight, ``0 < W <= 1``).
    settings : diffpy.crystalnet.datasets.builder.BuildSettings
        Crystal systems and size limit.

    Returns
    -------
    FileSource or DecoratedSource or RandomSource
        With ``name`` the full specification and ``weight`` set.
    """
    spec = str(spec)
    weighted = re.fullmatch(r"(.+)\*([0-9]*\.?[0-9]+)", spec)
    weight = 1.0
    if weighted:
        weight = float(weighted.group(2))
        if not 0 < weight <= 1:
            raise CrystalNetInputError(
                f"source weight must be in (0, 1], not {weight:g}", spec
            )
    source = _open_source(weighted.group(1) if weighted else spec, settings)
    source.weight = weight
    source.name = spec
    return source


def _open_source(spec, settings):
    from diffpy.crystalnet.datasets.sources import (
        from_prototypes,
        read_source,
        select,
    )

    if spec == "random":
        return RandomSource(
            space_groups_of(settings.systems), max_atoms=settings.max_atoms
        )
    if spec in ("prototypes", "aflow"):
        parents = list(
            from_prototypes(
                systems=settings.systems, max_atoms=settings.max_atoms
            )
        )
        return DecoratedSource(parents, "prototypes", settings.max_atoms)
    if spec.startswith("decorate:"):
        path = spec.split(":", 1)[1]
        parents = list(
            select(
                read_source(path),
                systems=settings.systems,
                max_atoms=settings.max_atoms,
            )
        )
        return DecoratedSource(parents, spec, settings.max_atoms)
    if not Path(spec).exists():
        raise CrystalNetInputError(
            "no such file or folder (sources are 'prototypes', 'random', "
            "'decorate:PATH' or a path)",
            spec,
        )
    return FileSource(spec)
