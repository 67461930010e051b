"""Structure sources for training data: files, tables and prototype libraries.

Every source is a generator of
:class:`~diffpy.crystalnet.datasets.records.StructureRecord` objects, read
one at a time so that memory does not grow with the number of structures:
CIF files or folders, CSV tables with a ``cif`` column and pymatgen JSON
(:mod:`diffpy.crystalnet.datasets.source_files`), and :func:`from_prototypes`,
the AFLOW library of crystallographic prototypes that pymatgen ships
(``pymatgen.analysis.prototypes``).  :func:`read_source` picks one of these
from a path (or ``"aflow"``).

A bad entry (unreadable CIF, broken row, ...) never stops a stream: it is
skipped, its reason logged (logger ``diffpy.crystalnet.datasets.sources``)
and counted in the optional
:class:`~diffpy.crystalnet.datasets.records.SourceStats`.

:func:`select` keeps the records of chosen crystal systems (by default cubic
and trigonal, the systems of the paper) and size, using the space group that
spglib finds with a given tolerance.
"""

from pathlib import Path

from diffpy.crystalnet.datasets.records import StructureRecord, as_stats
from diffpy.crystalnet.datasets.source_files import (
    from_cif,
    from_csv,
    from_json,
)
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import CRYSTAL_SYSTEMS

__all__ = [
    "DEFAULT_SYSTEMS",
    "crystal_system",
    "from_prototypes",
    "read_source",
    "select",
]


#: crystal systems kept by default (those of the CrystalNet paper)
DEFAULT_SYSTEMS = ("cubic", "trigonal")

#: default symmetry tolerance in angstrom
SYMPREC = 0.01


def crystal_system(structure, symprec=SYMPREC, angle_tolerance=5.0):
    """Return the crystal system of a structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure (any cell).
    symprec : float, optional
        spglib distance tolerance in angstrom.
    angle_tolerance : float, optional
        spglib angle tolerance in degrees.

    Returns
    -------
    str
        One of :data:`CRYSTAL_SYSTEMS`.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    analyzer = SpacegroupAnalyzer(
        structure, symprec=symprec, angle_tolerance=angle_tolerance
    )
    return analyzer.get_crystal_system()


def _check_systems(systems):
    if isinstance(systems, str):
        systems = (systems,)
    systems = tuple(s.lower() for s in systems)
    unknown = [s for s in systems if s not in CRYSTAL_SYSTEMS]
    if unknown:
        raise CrystalNetInputError(
            f"unknown crystal system(s) {unknown}; use {CRYSTAL_SYSTEMS}",
            "systems",
        )
    return systems


def select(
    records,
    systems=DEFAULT_SYSTEMS,
    max_atoms=None,
    ordered=True,
    symprec=SYMPREC,
    stats=None,
):
    """Keep records of chosen crystal systems and sizes.

    Parameters
    ----------
    records : iterable of StructureRecord
        The records.
    systems : str or sequence of str or None, optional
        Crystal systems kept (any of :data:`CRYSTAL_SYSTEMS`); ``None``
        keeps all.  Default cubic and trigonal.
    max_atoms : int, optional
        Largest number of atoms in the primitive cell (spglib's, at
        ``symprec``).
    ordered : bool, optional
        Drop structures with partial occupancies.
    symprec : float, optional
        Symmetry tolerance in angstrom.
    stats : SourceStats, optional
        Counts what was dropped and why.

    Yields
    ------
    StructureRecord
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if systems is not None:
        systems = _check_systems(systems)
    stats = as_stats(stats)
    for record in records:
        s = record.structure
        if ordered and not s.is_ordered:
            stats.skip(record.source, record.id, "disordered")
            continue
        try:
            analyzer = SpacegroupAnalyzer(s, symprec=symprec)
            system = analyzer.get_crystal_system()
            n_prim = (
                len(analyzer.find_primitive()) if max_atoms is not None else 0
            )
        except Exception as exc:
            stats.skip(record.source, record.id, f"no symmetry: {exc}")
            continue
        if systems is not None and system not in systems:
            stats.skipped[f"crystal system {system}"] += 1
            continue
        if max_atoms is not None and n_prim > max_atoms:
            stats.skipped[f"more than {max_atoms} atoms"] += 1
            continue
        stats.yielded += 1
        yield record


def _prototype_library():
    """pymatgen's bundled AFLOW prototype library (list of dicts)."""
    from pymatgen.analysis.prototypes import AFLOW_PROTOTYPE_LIBRARY

    return AFLOW_PROTOTYPE_LIBRARY


def from_prototypes(systems=None, max_atoms=None, symprec=SYMPREC, stats=None):
    """Yield the AFLOW prototypes bundled with pymatgen.

    The library (Mehl, Hicks et al., AFLOW Library of Crystallographic
    Prototypes; 288 structures in pymatgen 2026.10) is read from the
    installed pymatgen package (``pymatgen.analysis.prototypes``).

    Parameters
    ----------
    systems : str or sequence of str, optional
        Keep only these crystal systems (found by spglib at ``symprec``,
        not from the label).  Default: all.
    max_atoms : int, optional
        Largest number of atoms in the primitive cell.
    symprec : float, optional
        Symmetry tolerance in angstrom.
    stats : SourceStats, optional
        Counts yielded and dropped prototypes.

    Yields
    ------
    StructureRecord
        ``source`` ``"aflow"``, ``id`` the AFLOW label (for example
        ``"AB_cF8_225_a_b"``, rock salt).
    """
    stats = as_stats(stats)
    if systems is not None:
        systems = _check_systems(systems)

    def records():
        for entry in _prototype_library():
            snl = entry["snl"]
            structure = getattr(snl, "structure", None)
            label = entry.get("tags", {}).get("aflow") or "unknown"
            if structure is None:
                stats.skip("aflow", label, "no structure")
                continue
            yield StructureRecord(structure.copy(), "aflow", label)

    if systems is None and max_atoms is None:
        return _counted(records(), stats)
    return select(
        records(),
        systems=systems,
        max_atoms=max_atoms,
        symprec=symprec,
        stats=stats,
    )


def _counted(records, stats):
    for record in records:
        stats.yielded += 1
        yield record


def read_source(spec, stats=None, **kwargs):
    """Open a structure source from a path or a library name.

    Parameters
    ----------
    spec : str or os.PathLike
        ``"aflow"`` (or ``"prototypes"``) for the AFLOW prototype library;
        a folder or ``.cif`` file; a ``.csv`` table; a ``.json`` or
        ``.jsonl`` file.
    stats : SourceStats, optional
        Counts yielded and skipped entries.
    **kwargs
        Passed to the reader (for example ``cif_column`` for CSV).

    Returns
    -------
    generator of StructureRecord

    Raises
    ------
    CrystalNetInputError
        The path does not exist or its kind is not known.
    """
    if isinstance(spec, str) and spec.lower() in ("aflow", "prototypes"):
        return from_prototypes(stats=stats, **kwargs)
    path = Path(spec)
    suffix = path.suffix.lower()
    if path.is_dir() or (path.is_file() and suffix in (".cif", ".mcif")):
        return from_cif(path, stats=stats, **kwargs)
    if not path.exists():
        raise CrystalNetInputError("no such file or folder", path)
    if suffix == ".csv":
        return from_csv(path, stats=stats, **kwargs)
    if suffix in (".json", ".jsonl"):
        return from_json(path, stats=stats, **kwargs)
    raise CrystalNetInputError(
        "unknown source type; give a folder, .cif, .csv, .json, .jsonl "
        "or 'aflow'",
        path,
    )
