"""Deduplication and leak-free train/validation/test splits.

Rules
-----
* **Duplicates** are structures with the same reduced formula and space-group
  number (the CrystalNet paper's rule); the first one met is kept.  The key
  is written ``"<reduced formula>|<space-group number>"``, e.g.
  ``"CeO2|225"``.
* **Groups**: a generated record (decoration) belongs to the group of its
  ``parent`` (``"<source>:<id>"`` of the structure it was made from); any
  other record is the group ``"<source>:<id>"`` of its own, so a real
  structure and the decorations made from it share a group.
* **Split** of a group: a SHA-256 hash of ``"<seed>:<group>"`` mapped to
  [0, 1) and compared with the requested fractions.  It depends only on the
  group and the seed, so it is the same in every run, every shard and every
  order of the records.

After deduplication every formula and space-group key occurs once, and every
group lies in one split, so validation and test share neither a
formula+space-group key nor a decorated parent with training.

* **Exclusions** keep held-out structures (an experimental test set, say) out
  of the data altogether: a record is dropped when its key or its
  ``parent`` is listed.  :func:`load_exclusions` reads keys from text files
  (one ``formula|spacegroup`` or ``source:id`` per line, ``#`` comments) or
  computes them from CIF files and folders.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from diffpy.crystalnet.datasets.records import SourceStats
from diffpy.crystalnet.datasets.sources import SYMPREC
from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "Assigned",
    "assign_split",
    "check_splits",
    "dedupe",
    "dedupe_key",
    "load_exclusions",
    "split_records",
]

SPLITS = ("train", "val", "test")


def dedupe_key(structure, symprec=SYMPREC):
    """Return ``"<reduced formula>|<space-group number>"`` of a structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure.
    symprec : float, optional
        spglib tolerance in angstrom for the space group.

    Returns
    -------
    str
        For example ``"NaCl|225"``.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    number = SpacegroupAnalyzer(
        structure, symprec=symprec
    ).get_space_group_number()
    return f"{structure.composition.reduced_formula}|{int(number)}"


def assign_split(group, fractions=None, seed=0):
    """Assign a split to a group from a stable hash.

    Parameters
    ----------
    group : str
        The group key.
    fractions : dict, optional
        ``{"val": f_val, "test": f_test}``, default 0.05 each; the rest is
        ``"train"``.
    seed : int, optional
        Mixed into the hash; another seed gives another split.

    Returns
    -------
    str
        ``"train"``, ``"val"`` or ``"test"``.
    """
    fractions = _check_fractions(fractions)
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < fractions["test"]:
        return "test"
    if u < fractions["test"] + fractions["val"]:
        return "val"
    return "train"


def _check_fractions(fractions):
    if fractions is None:
        return {"val": 0.05, "test": 0.05}
    unknown = set(fractions) - {"val", "test"}
    out = {"val": float(fractions.get("val", 0.0))}
    out["test"] = float(fractions.get("test", 0.0))
    if unknown or min(out.values()) < 0 or sum(out.values()) > 1:
        raise CrystalNetInputError(
            f"fractions must be {{'val': f, 'test': f}} with f >= 0 and a "
            f"sum <= 1, got {fractions}",
            "fractions",
        )
    return out


def dedupe(records, symprec=SYMPREC, seen=None, stats=None):
    """Drop records whose formula and space group were met before.

    Parameters
    ----------
    records : iterable of StructureRecord
        The records.
    symprec : float, optional
        Tolerance for the space group.
    seen : set, optional
        Keys already taken (updated in place), for deduplicating across
        several calls.
    stats : SourceStats, optional
        Counts kept and dropped records.

    Yields
    ------
    tuple
        ``(key, record)`` for every record kept.
    """
    seen = set() if seen is None else seen
    stats = SourceStats() if stats is None else stats
    for record in records:
        try:
            key = dedupe_key(record.structure, symprec)
        except Exception as exc:
            stats.skip(record.source, record.id, f"no space group: {exc}")
            continue
        if key in seen:
            stats.skipped["duplicate formula and space group"] += 1
            continue
        seen.add(key)
        stats.yielded += 1
        yield key, record


def load_exclusions(paths, symprec=SYMPREC):
    """Read the keys of held-out structures.

    Parameters
    ----------
    paths : str or os.PathLike or sequence of them
        Text files (one ``formula|spacegroup`` key or ``source:id`` parent
        key per line; blank lines and ``#`` comments ignored), CIF files, or
        folders of CIF files (their structures' keys are computed).
    symprec : float, optional
        Tolerance for the space groups of CIF structures.

    Returns
    -------
    set of str
        The keys.

    Raises
    ------
    CrystalNetInputError
        A missing file, or a CIF without a readable structure.
    """
    from diffpy.crystalnet.datasets.source_files import from_cif

    if isinstance(paths, (str, Path)):
        paths = [paths]
    keys = set()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise CrystalNetInputError("no such file or folder", path)
        if path.is_dir() or path.suffix.lower() in (".cif", ".mcif"):
            stats = SourceStats()
            for record in from_cif(path, stats=stats):
                keys.add(dedupe_key(record.structure, symprec))
            if path.is_file() and stats.skipped:
                raise CrystalNetInputError(
                    f"cannot read the structure: {dict(stats.skipped)}", path
                )
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            if "|" in text:
                formula, _, sg = text.partition("|")
                if not sg.strip().isdigit():
                    raise CrystalNetInputError(
                        f"line {number}: expected formula|spacegroup, "
                        f"got {text!r}",
                        path,
                    )
                text = _normalised_key(formula.strip(), int(sg), path)
            keys.add(text)
    return keys


def _normalised_key(formula, spacegroup, path):
    from diffpy.crystalnet.physics.composition import parse_formula

    try:
        reduced = parse_formula(formula).reduced_formula
    except CrystalNetInputError as exc:
        raise CrystalNetInputError(exc.problem, path) from None
    if not 1 <= spacegroup <= 230:
        raise CrystalNetInputError(
            f"space group {spacegroup} is not in 1-230", path
        )
    return f"{reduced}|{spacegroup}"


@dataclass
class Assigned:
    """A record with its deduplication key, group and split."""

    record: object
    key: str
    group: str
    split: str


def split_records(
    records,
    fractions=None,
    seed=0,
    exclude=(),
    symprec=SYMPREC,
    stats=None,
):
    """Deduplicate records and assign each to train, val or test.

    Parameters
    ----------
    records : iterable of StructureRecord
        The records (a stream: memory grows only with the number of unique
        keys).
    fractions : dict, optional
        ``{"val": f, "test": f}``, default 0.05 each.
    seed : int, optional
        Split seed (see :func:`assign_split`).
    exclude : set of str, optional
        Keys kept out (see :func:`load_exclusions`): a record is dropped
        when its formula+space-group key or its parent is listed.
    symprec : float, optional
        Tolerance for the space group.
    stats : SourceStats, optional
        Counts kept, duplicate and excluded records.

    Yields
    ------
    Assigned
        The record, its key, its group (``parent`` or its own
        ``"<source>:<id>"``) and its split.
    """
    fractions = _check_fractions(fractions)
    stats = SourceStats() if stats is None else stats
    exclude = set(exclude)

    def kept():
        for record in records:
            if record.parent and record.parent in exclude:
                stats.skipped["excluded"] += 1
                continue
            if record.key in exclude:
                stats.skipped["excluded"] += 1
                continue
            yield record

    inner = SourceStats()
    for key, record in dedupe(kept(), symprec, stats=inner):
        if key in exclude:
            stats.skipped["excluded"] += 1
            continue
        group = record.parent or record.key
        stats.yielded += 1
        yield Assigned(
            record, key, group, assign_split(group, fractions, seed)
        )
    for reason, count in inner.skipped.items():
        stats.skipped[reason] += count


def check_splits(assigned, exclude=()):
    """List leaks between splits (empty when the splits are clean).

    Parameters
    ----------
    assigned : iterable of Assigned
        The output of :func:`split_records` (or any assignment).
    exclude : set of str, optional
        Keys that must not appear at all.

    Returns
    -------
    list of str
        One line per problem: a key or a group in more than one split, an
        excluded key or parent present.
    """
    key_splits, group_splits, problems = {}, {}, []
    for a in assigned:
        key_splits.setdefault(a.key, set()).add(a.split)
        group_splits.setdefault(a.group, set()).add(a.split)
        if a.key in exclude or (a.record.parent or "") in exclude:
            problems.append(f"excluded {a.key} ({a.record.key}) present")
    for name, table in (("key", key_splits), ("group", group_splits)):
        for key, splits in table.items():
            if len(splits) > 1:
                problems.append(f"{name} {key} in {sorted(splits)}")
    return problems
