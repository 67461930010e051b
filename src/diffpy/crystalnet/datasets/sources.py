"""Structure sources for training data: files, tables and prototype libraries.

Every source is a generator of :class:`StructureRecord` objects, read one at
a time so that memory does not grow with the number of structures:

* :func:`from_cif` -- a CIF file or a folder of CIFs (searched recursively;
  every data block with atom sites is one record);
* :func:`from_csv` -- a table with a ``cif`` column, the CDVAE / MP-20 format
  (``material_id`` kept as the record id, else the row number);
* :func:`from_json` -- pymatgen ``Structure.as_dict()`` objects: one, a list,
  or (streamed) one per line in a ``.jsonl`` file;
* :func:`from_prototypes` -- the AFLOW library of crystallographic prototypes
  that pymatgen ships (``pymatgen.analysis.prototypes``);
* :func:`read_source` picks one of these from a path (or ``"aflow"``).

A bad entry (unreadable CIF, broken row, ...) never stops a stream: it is
skipped, its reason logged (logger ``diffpy.crystalnet.datasets.sources``) and
counted in the optional :class:`SourceStats`.

:func:`select` keeps the records of chosen crystal systems (by default cubic
and trigonal, the systems of the paper) and size, using the space group that
spglib finds with a given tolerance.
"""

import csv
import json
import logging
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import CRYSTAL_SYSTEMS

__all__ = [
    "DEFAULT_SYSTEMS",
    "SourceStats",
    "StructureRecord",
    "crystal_system",
    "from_cif",
    "from_csv",
    "from_json",
    "from_prototypes",
    "read_source",
    "select",
]

log = logging.getLogger(__name__)

#: crystal systems kept by default (those of the CrystalNet paper)
DEFAULT_SYSTEMS = ("cubic", "trigonal")

#: default symmetry tolerance in angstrom
SYMPREC = 0.01


@dataclass
class StructureRecord:
    """One structure and where it came from.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure.
    source : str
        The source: a file or folder path, ``"aflow"``, ``"decorate"``,
        ``"pyxtal"``, ...
    id : str
        Identifier within the source (a material id, a relative file path
        with ``#block``, a row number, a prototype label, ...).
    parent : str, optional
        For generated structures, ``"<source>:<id>"`` of the structure it was
        made from (the decorated prototype).  Structures with the same parent
        are kept in the same data split.
    seed : int, optional
        The seed that reproduces a generated structure.
    """

    structure: object
    source: str
    id: str
    parent: str = None
    seed: int = None

    @property
    def key(self):
        """``"<source>:<id>"``, the name other records use as ``parent``."""
        return f"{self.source}:{self.id}"


class SourceStats:
    """Counts of records yielded and skipped (with reasons) by sources.

    Attributes
    ----------
    yielded : int
        Records yielded.
    skipped : collections.Counter
        Reason -> number of entries skipped for it.
    """

    def __init__(self):
        self.yielded = 0
        self.skipped = Counter()

    def skip(self, source, ident, reason):
        """Count and log one skipped entry."""
        short = str(reason).split(":")[0][:80]
        self.skipped[short] += 1
        log.warning("%s: %s skipped: %s", source, ident, reason)

    def __repr__(self):
        return (
            f"SourceStats(yielded={self.yielded}, "
            f"skipped={dict(self.skipped)})"
        )


def _stats(stats):
    return SourceStats() if stats is None else stats


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
    stats = _stats(stats)
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


def _cif_records(path, source, ident, stats):
    """Records of every structure block in one CIF file."""
    from pymatgen.io.cif import CifFile

    from diffpy.crystalnet.io.structures import (
        read_structure,
        structure_blocks,
    )

    try:
        cif = CifFile.from_file(path)
        blocks = structure_blocks(cif)
    except Exception as exc:
        stats.skip(source, ident, f"unreadable CIF: {exc}")
        return
    if not blocks:
        stats.skip(source, ident, "no structure in the CIF")
        return
    for block in blocks:
        bid = ident if len(blocks) == 1 else f"{ident}#{block}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structure = read_structure(path, block=block)
        except CrystalNetInputError as exc:
            stats.skip(source, bid, exc.problem)
            continue
        stats.yielded += 1
        yield StructureRecord(structure, source, bid)


def from_cif(path, recursive=True, stats=None):
    """Read structures from a CIF file or a folder of CIF files.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.cif`` file or a folder.
    recursive : bool, optional
        Search sub-folders too (files in sorted order).
    stats : SourceStats, optional
        Counts yielded and skipped entries.

    Yields
    ------
    StructureRecord
        ``source`` is ``path``; ``id`` the file path relative to ``path``
        (the file name for a single file), with ``#block`` added when a file
        holds several structures.

    Raises
    ------
    CrystalNetInputError
        ``path`` does not exist.
    """
    path = Path(path)
    stats = _stats(stats)
    if not path.exists():
        raise CrystalNetInputError("no such file or folder", path)
    return _iter_cif(path, recursive, stats)


def _iter_cif(path, recursive, stats):
    if path.is_file():
        yield from _cif_records(path, str(path), path.name, stats)
        return
    pattern = "**/*" if recursive else "*"
    files = sorted(
        p
        for p in path.glob(pattern)
        if p.is_file() and p.suffix.lower() in (".cif", ".mcif")
    )
    for file in files:
        ident = file.relative_to(path).as_posix()
        yield from _cif_records(file, str(path), ident, stats)


def from_csv(path, cif_column="cif", id_column="material_id", stats=None):
    """Read structures from a table with a CIF column (CDVAE format).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (as in MP-20, perov-5, carbon-24: one P1 CIF per row).
    cif_column : str, optional
        The column holding the CIF text.
    id_column : str, optional
        The column used as record id; when it is missing or empty, the
        row number (``"row<n>"``, counting data rows from 0) is used.
    stats : SourceStats, optional
        Counts yielded and skipped rows.

    Yields
    ------
    StructureRecord
        ``source`` is the file path.

    Raises
    ------
    CrystalNetInputError
        Missing file, or no ``cif_column`` in the header.
    """
    path = Path(path)
    stats = _stats(stats)
    if not path.is_file():
        raise CrystalNetInputError("no such file", path)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open(path, newline="", encoding="utf-8") as fh:
        fields = csv.DictReader(fh).fieldnames
    if fields is None or cif_column not in fields:
        raise CrystalNetInputError(
            f"no {cif_column!r} column; columns: {fields}", path
        )
    return _iter_csv(path, cif_column, id_column, stats)


def _iter_csv(path, cif_column, id_column, stats):
    from pymatgen.io.cif import CifParser

    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        for row_number, row in enumerate(reader):
            ident = (row.get(id_column) or "").strip() or f"row{row_number}"
            text = row.get(cif_column) or ""
            if not text.strip():
                stats.skip(str(path), ident, "empty CIF")
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    structures = CifParser.from_str(text).parse_structures(
                        primitive=False, on_error="ignore"
                    )
            except Exception as exc:
                stats.skip(str(path), ident, f"unreadable CIF: {exc}")
                continue
            if not structures:
                stats.skip(str(path), ident, "no structure in the CIF")
                continue
            stats.yielded += 1
            yield StructureRecord(structures[0], str(path), ident)


_ID_KEYS = ("material_id", "id", "task_id", "name")


def _json_record(item, path, index, stats):
    from pymatgen.core import Structure

    ident = str(index)
    data = item
    if isinstance(item, dict) and isinstance(item.get("structure"), dict):
        data = item["structure"]
        for key in _ID_KEYS:
            if item.get(key) not in (None, ""):
                ident = str(item[key])
                break
    try:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data)}")
        structure = Structure.from_dict(data)
    except Exception as exc:
        stats.skip(str(path), ident, f"not a structure: {exc}")
        return None
    stats.yielded += 1
    return StructureRecord(structure, str(path), ident)


def from_json(path, stats=None):
    """Read pymatgen structures from JSON.

    Parameters
    ----------
    path : str or os.PathLike
        ``.json``: one ``Structure.as_dict()`` object or a list of them
        (read whole into memory); ``.jsonl``: one object per line (streamed,
        for large sets).  An item may also be a wrapper
        ``{"structure": {...}, "material_id": ...}`` whose id is kept.
    stats : SourceStats, optional
        Counts yielded and skipped items.

    Yields
    ------
    StructureRecord
        ``id`` is the wrapper's ``material_id``/``id``/``task_id``/``name``
        or the index (line number for ``.jsonl``, from 0).

    Raises
    ------
    CrystalNetInputError
        Missing file or a ``.json`` file that is not valid JSON.
    """
    path = Path(path)
    stats = _stats(stats)
    if not path.is_file():
        raise CrystalNetInputError("no such file", path)
    if path.suffix.lower() == ".jsonl":
        return _iter_jsonl(path, stats)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CrystalNetInputError(f"not readable JSON: {exc}", path)
    items = data if isinstance(data, list) else [data]
    return _iter_items(items, path, stats)


def _iter_items(items, path, stats):
    for index, item in enumerate(items):
        record = _json_record(item, path, index, stats)
        if record is not None:
            yield record


def _iter_jsonl(path, stats):
    with open(path, encoding="utf-8") as fh:
        for index, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                stats.skip(str(path), str(index), f"bad JSON: {exc}")
                continue
            record = _json_record(item, path, index, stats)
            if record is not None:
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
    stats = _stats(stats)
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
