"""Structure sources read from files: CIF, CSV tables and pymatgen JSON.

* :func:`from_cif` -- a CIF file or a folder of CIFs (searched recursively;
  every data block with atom sites is one record);
* :func:`from_csv` -- a table with a ``cif`` column, the CDVAE / MP-20 format
  (``material_id`` kept as the record id, else the row number);
* :func:`from_json` -- pymatgen ``Structure.as_dict()`` objects: one, a list,
  or (streamed) one per line in a ``.jsonl`` file.

A bad entry never stops a stream: it is skipped and counted in the
:class:`~diffpy.crystalnet.datasets.records.SourceStats`.
"""

import csv
import json
import sys
import warnings
from pathlib import Path

from diffpy.crystalnet.datasets.records import StructureRecord, as_stats
from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["from_cif", "from_csv", "from_json"]


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
    stats = as_stats(stats)
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
    stats = as_stats(stats)
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
    stats = as_stats(stats)
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
