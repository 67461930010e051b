"""Build CrystalNet training datasets: structures -> HDF5 shards.

The work is cut into *blocks* of source records.  Blocks are numbered
globally and interleave the sources round-robin (block ``b`` comes from
source ``b % S``, local block ``b // S``), so every source contributes
evenly and a finite source that runs out simply yields empty blocks.  A
block is generated from its own seed (``SeedSequence([seed, source, local
block])``), so any block can be built without building the ones before it:

* each block is written as one shard file, atomically, so an interrupted
  build resumes by skipping the shards that exist (no entry lost or written
  twice);
* ``shard=(k, n)`` builds only the blocks whose local block is ``k``
  modulo ``n`` (``(b // S) % n == k``: every n-th round of one block per
  source) -- the same build run as a job array on a cluster scheduler;
* the output is the same for a given seed whatever ``workers`` is.

Deduplication across blocks and jobs, and trimming to the requested size,
happen when the manifest is written
(:func:`~diffpy.crystalnet.datasets.manifest.finalize_dataset`).
"""

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diffpy.crystalnet.datasets.manifest import block_of, entry_key
from diffpy.crystalnet.datasets.shards import (
    SHARD_PATTERN,
    read_shard_meta,
    shard_paths,
    write_shard,
)
from diffpy.crystalnet.datasets.source_blocks import block_records
from diffpy.crystalnet.datasets.splits import assign_split
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import write_json
from diffpy.crystalnet.physics.lattice import crystal_system_of

__all__ = [
    "BuildSettings",
    "build_dataset",
    "make_entry",
]

log = logging.getLogger(__name__)


@dataclass
class BuildSettings:
    """Settings of a dataset build (stored in the manifest).

    Parameters
    ----------
    systems : tuple of str
        Crystal systems kept.
    n : int
        Number of unique structures wanted.
    seed : int
        Master seed.
    grid_size : int
        CMED grid size.
    block_size : int
        Source records per block (and so at most entries per shard).
    max_atoms : int
        Largest number of atoms in the CMED cell kept.
    symprec : float
        Symmetry tolerance (angstrom) for space groups and cells; the
        default is that of :func:`~diffpy.crystalnet.physics.cells.cmed_cell`.
    fractions : dict
        Fractions of the ``val`` and ``test`` splits.
    exclude : list of str
        Keys kept out of the dataset: ``"formula|spacegroup"`` or
        ``"source:id"`` of a structure or of a decorated parent (see
        :func:`diffpy.crystalnet.datasets.splits.load_exclusions`).
    """

    systems: tuple = ("cubic", "trigonal")
    n: int = 1000
    seed: int = 0
    grid_size: int = 50
    block_size: int = 128
    max_atoms: int = 20
    symprec: float = 0.1  # = cells.DEFAULT_SYMPREC (Materials Project)
    fractions: dict = field(
        default_factory=lambda: {"val": 0.05, "test": 0.05}
    )
    exclude: list = field(default_factory=list)

    def to_dict(self):
        """Return the settings as a JSON-serialisable dict."""
        out = dict(self.__dict__)
        out["systems"] = list(self.systems)
        return out


def make_entry(
    structure, settings, record=0, source="", ident="", parent="", seen=()
):
    """Compute everything stored for one structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        Any cell of the crystal (ordered).
    settings : BuildSettings
        Grid size, tolerance, systems and size limits.
    record, source, ident, parent : optional
        Provenance stored with the entry.
    seen : collection of str, optional
        Dedupe keys already in the dataset: such a structure is skipped
        before its pattern and density are computed.

    Returns
    -------
    dict or str
        The entry (see :mod:`diffpy.crystalnet.datasets.shards`), or a string
        giving the reason the structure was skipped.
    """
    from diffpy.crystalnet.density.cmed import cmed
    from diffpy.crystalnet.physics.cells import cmed_cell
    from diffpy.crystalnet.physics.composition import composition_vector
    from diffpy.crystalnet.physics.model_input import bin_sticks
    from diffpy.crystalnet.physics.simulator import simulate_pattern
    from diffpy.crystalnet.physics.transforms import two_theta_to_q
    from diffpy.crystalnet.physics.wavelengths import WAVELENGTHS

    if not structure.is_ordered:
        return "disordered (partial occupancy)"
    cell = cmed_cell(structure, symprec=settings.symprec)
    if len(cell) > settings.max_atoms:
        return f"{len(cell)} atoms in the CMED cell > {settings.max_atoms}"
    spacegroup = cell.get_space_group_info(symprec=settings.symprec)[1]
    system = crystal_system_of(spacegroup)
    if system not in settings.systems:
        return f"crystal system {system} not requested"
    formula = cell.composition.reduced_formula
    excluded = set(settings.exclude)
    key = entry_key(formula, spacegroup)
    if excluded & {key, parent, f"{source}:{ident}"}:
        return "in the exclusion list"
    if key in seen:
        return "duplicate of an earlier block"
    sticks = simulate_pattern(
        cell, wavelength="MoKa", two_theta_range=(0, 180)
    )
    two_theta = np.asarray(sticks.x, dtype=float)
    if two_theta.size == 0:
        return "no reflections"
    q = two_theta_to_q(two_theta, WAVELENGTHS["MoKa"])
    intensity = np.asarray(sticks.y, dtype=float)
    density = cmed(cell, n=settings.grid_size, standardize=False)
    return {
        "pattern": bin_sticks(q, intensity),
        "composition": composition_vector(cell.composition),
        "cmed": density,
        "lattice": cell.lattice.matrix,
        "sticks_q": q,
        "sticks_intensity": intensity,
        "spacegroup": spacegroup,
        "nsites": len(cell),
        "record": record,
        "formula": formula,
        "system": system,
        "source": source,
        "id": ident,
        "parent": parent or "",
        "structure": json.dumps(cell.as_dict()),
    }


#: the sources of the build running in this process (set in each worker by
#: the pool initializer, so they are pickled once per worker, not per job)
_SOURCES = []


def _set_sources(sources):
    _SOURCES[:] = sources


def _entry_job(args):
    """Worker: one recipe -> (index, entry or skip reason); never raises."""
    record_index, source_index, recipe, settings, seen = args
    try:
        record = _SOURCES[source_index].realize(recipe)
        if isinstance(record, str):
            return record_index, f"generation: {record}"
        result = make_entry(
            record.structure,
            settings,
            record=record_index,
            source=record.source,
            ident=record.id,
            parent=record.parent,
            seen=seen,
        )
    except Exception as error:  # a bad structure must not stop the build
        result = f"failed: {type(error).__name__}: {error}"
    if isinstance(result, dict):
        result["seed"] = record.seed
    return record_index, result


def build_dataset(
    sources,
    out,
    settings=None,
    workers=1,
    shard=(0, 1),
    progress=True,
    max_blocks=None,
):
    """Build (or resume) a dataset of HDF5 shards.

    Parameters
    ----------
    sources : list of Source
        Record sources (see :mod:`diffpy.crystalnet.datasets.source_blocks`),
        each with ``name``, ``block(j, size, seed)`` returning a list of
        recipes (None when exhausted) and ``realize(recipe)`` returning a
        structure record or a skip reason.
    out : str or os.PathLike
        The dataset folder (created).
    settings : BuildSettings, optional
        Build settings; must equal those of an existing build in ``out``.
    workers : int, optional
        Worker processes.
    shard : tuple of int, optional
        ``(k, n)``: build only the blocks of local index ``k`` modulo ``n``
        (block ``b`` has local index ``b // len(sources)``).
    progress : bool, optional
        Show a tqdm progress bar.
    max_blocks : int, optional
        Stop after this many blocks of this job (for tests and dry runs).

    Returns
    -------
    dict
        Counts of this run: ``blocks``, ``written``, ``skipped`` (reason ->
        count), ``seconds``.
    """
    from tqdm import tqdm

    settings = settings or BuildSettings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    k, n_jobs = shard
    if not (0 <= k < n_jobs):
        raise CrystalNetInputError(
            f"shard {k}/{n_jobs} is not valid", "--shard"
        )
    _check_settings(out, settings, sources)
    n_sources = len(sources)
    exhausted = set()
    stats = {"blocks": 0, "written": 0, "skipped": {}, "seconds": 0.0}
    keys = _existing_keys(out, shard, n_sources)
    # Each job aims at its share of the unique entries (plus a margin for
    # cross-job duplicates); finalize trims to exactly settings.n.
    target = int(np.ceil(settings.n / n_jobs * (1.0 if n_jobs == 1 else 1.1)))
    start = time.perf_counter()
    pool = None
    if workers > 1:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_set_sources, initargs=(list(sources),)
        )
    _set_sources(sources)
    bar = tqdm(
        total=target,
        initial=min(len(keys), target),
        desc="structures",
        disable=not progress,
        unit="st",
    )
    try:
        local = k
        while len(keys) < target and len(exhausted) < n_sources:
            for source_index, source in enumerate(sources):
                if len(keys) >= target or (
                    max_blocks is not None and stats["blocks"] >= max_blocks
                ):
                    break
                block = local * n_sources + source_index
                path = out / SHARD_PATTERN.format(block)
                if path.exists() or source_index in exhausted:
                    continue
                done = _build_block(
                    source, source_index, local, block, path, settings, pool,
                    frozenset(keys),
                )  # fmt: skip
                if done is None:
                    exhausted.add(source_index)
                    continue
                stats["blocks"] += 1
                stats["written"] += done["count"]
                for reason, count in done["skipped"].items():
                    stats["skipped"][reason] = (
                        stats["skipped"].get(reason, 0) + count
                    )
                before = len(keys)
                keys |= done["keys"]
                bar.update(min(len(keys), target) - min(before, target))
            else:
                local += n_jobs
                continue
            break
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    stats["seconds"] = time.perf_counter() - start
    return stats


def _build_block(
    source, source_index, local, block, path, settings, pool, seen
):
    """Build one block of one source into one shard file.

    ``seen`` holds the dedupe keys of this job's earlier blocks: those
    structures are skipped before the expensive work.  (Duplicates across
    the parts of a job array, and within a block, are stored and dropped by
    :func:`~diffpy.crystalnet.datasets.manifest.finalize_dataset`, so the
    final dataset is the same either way.)

    Returns None when the source has no such block (exhausted), else a
    dict with the dedupe ``keys`` written and the ``skipped`` reasons.
    """
    seed = np.random.SeedSequence([settings.seed, source_index, local])
    size = block_records(source, settings.block_size)
    records = source.block(local, size, int(seed.generate_state(1)[0]))
    if records is None:
        return None
    base = local * size
    jobs = [
        (base + i, source_index, recipe, settings, seen)
        for i, recipe in enumerate(records)
    ]
    if pool is None:
        results = map(_entry_job, jobs)
    else:  # 8 chunks: ``seen`` is pickled once per chunk, not per job
        results = pool.imap(_entry_job, jobs, chunksize=-(-len(jobs) // 8))
    entries, skipped = [], {}
    for index, result in results:
        if isinstance(result, dict):
            # a structure and its decorations form one group, keyed by
            # ids (material id, relative CIF path, AFLOW label, seed), not
            # by file paths, so splits do not depend on the input folder
            group = result["parent"] or result["id"]
            result["split"] = assign_split(
                group, settings.fractions, settings.seed
            )
            entries.append(result)
        else:
            reason = result.split(":")[0]
            skipped[reason] = skipped.get(reason, 0) + 1
            log.info("%s record %d skipped: %s", source.name, index, result)
    write_shard(
        path,
        entries,
        settings.grid_size,
        attrs={
            "block": block,
            "source": source.name,
            "local_block": local,
            "records": len(records),
            "skipped": skipped,
        },
    )
    keys = {entry_key(e["formula"], e["spacegroup"]) for e in entries}
    return {"keys": keys, "count": len(entries), "skipped": skipped}


def _existing_keys(out, shard=(0, 1), n_sources=1):
    """Dedupe keys already written by this job (for resuming).

    Job ``k`` of ``n`` builds the blocks of local index ``k`` modulo ``n``
    (block ``b`` is local block ``b // n_sources`` of source
    ``b % n_sources``); the shards of the other jobs in the same folder
    are not its own.
    """
    k, n_jobs = shard
    keys = set()
    for path in shard_paths(out):
        if block_of(path) // n_sources % n_jobs != k:
            continue
        meta = read_shard_meta(path)
        keys.update(
            entry_key(f, sg)
            for f, sg in zip(meta["formula"], meta["spacegroup"])
        )
    return keys


def _check_settings(out, settings, sources):
    """Record the build settings, or check a resumed build matches them."""
    path = Path(out) / "build.json"
    current = {
        "settings": settings.to_dict(),
        "sources": [source.name for source in sources],
    }
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CrystalNetInputError(
                f"unreadable build settings ({error})", path
            ) from None
        if previous != current:
            raise CrystalNetInputError(
                "this folder holds a build with other settings or sources; "
                "use another --out (or the same options to resume): "
                f"previous {previous}, now {current}",
                out,
            )
        return
    write_json(path, current, indent=1, sort_keys=True)
