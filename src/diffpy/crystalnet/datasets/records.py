"""Structure records and the counts of a structure source.

:class:`StructureRecord` is one structure and where it came from;
:class:`SourceStats` counts what a source yielded and skipped (with
reasons, logged to ``diffpy.crystalnet.datasets.sources``).
"""

import logging
from collections import Counter
from dataclasses import dataclass

__all__ = ["SourceStats", "StructureRecord", "as_stats"]

log = logging.getLogger("diffpy.crystalnet.datasets.sources")


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


def as_stats(stats):
    """The given :class:`SourceStats`, or a new one."""
    return SourceStats() if stats is None else stats
