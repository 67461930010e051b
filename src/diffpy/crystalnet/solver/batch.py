"""Solve many patterns: one solve per pattern, run on Dask.

:func:`solve_many` runs :func:`~diffpy.crystalnet.solver.pipeline.solve`
and :func:`~diffpy.crystalnet.solver.report.write_outputs` once per pattern,
exactly as ``diffpy.crystalnet solve PATTERN --out OUT/<stem>`` does, as the
tasks of a Dask ``distributed`` cluster: by default a ``LocalCluster`` of
single-threaded worker processes on this machine; or any cluster, given as
a ``distributed.Client``, a cluster object (``dask_jobqueue.SLURMCluster``)
or a scheduler address.

- **One folder per pattern**: ``out_dir/<pattern stem>/``, the files of
  ``solve``.
- **Resumable**: :func:`~diffpy.crystalnet.solver.report.write_outputs`
  writes a folder under a temporary name and renames it when complete, so a
  folder holding ``candidates.json`` is a finished solve: it is skipped
  unless ``settings.output.force``.  A failed pattern leaves no folder and
  is tried again by the next run.
- **A failure stops nothing else**: any exception of a pattern (an
  unreadable file, a pattern that cannot be indexed, a lost worker) becomes
  a ``failed`` :class:`~diffpy.crystalnet.solver.batch_records.BatchRecord`
  with a one-line message.
- **Summary**: ``out_dir/summary.csv`` (written atomically), one row per
  pattern: :data:`~diffpy.crystalnet.solver.batch_records.COLUMNS`.

Each task limits torch, BLAS and OpenMP to one thread
(:func:`~diffpy.crystalnet.threads.limit_process_threads`), so N workers
use N cores.

Examples
--------
From a script (the ``__main__`` guard is needed: the local cluster starts
worker processes that import the script)::

    from diffpy.crystalnet import SolveSettings
    from diffpy.crystalnet.solver.batch import solve_many

    if __name__ == "__main__":
        records = solve_many(
            ["scans/*.xy"], "NaCl", SolveSettings(), "results", workers=4
        )
        print(sum(r.status == "failed" for r in records), "failed")
"""

import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Mapping
from pathlib import Path

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.solver.batch_records import (
    BatchRecord,
    find_patterns,
    lookup,
    one_line,
    write_summary,
)
from diffpy.crystalnet.solver.settings import SolveSettings

__all__ = [
    "FINISHED_NAME",
    "SUMMARY_NAME",
    "solve_many",
    "solve_pattern",
]

#: the summary table written into the output folder
SUMMARY_NAME = "summary.csv"
#: the file whose presence marks a finished solve (the folder appears whole)
FINISHED_NAME = "candidates.json"


# ---------------------------------------------------------------------------
# One pattern: the task of a worker


def solve_pattern(
    pattern,
    folder,
    composition=None,
    settings=None,
    wavelength=None,
    client_pid=None,
):
    """Solve one pattern into a folder, as ``solve --out FOLDER`` does.

    The task of a batch's worker: it limits the process to one thread
    (:func:`~diffpy.crystalnet.threads.limit_process_threads`), and never
    raises; a failure is a ``failed`` record.  In a worker process (not
    the client's), Python's and spglib's warnings are switched off for
    good: they would garble the progress bar, and those a user can act on
    are in ``candidates.json``.

    Parameters
    ----------
    pattern : str or os.PathLike
        The pattern file (an absolute path for remote workers).
    folder : str or os.PathLike
        The output folder (replaced only with ``settings.output.force``).
    composition : str, optional
        The formula.
    settings : SolveSettings, optional
        What solve does and writes (``output.out`` is not used).
    wavelength : float or str, optional
        Overrides the file's wavelength.
    client_pid : int, optional
        The process id of the client: a task in another process is in a
        worker process that only solves (``warnings.catch_warnings`` is not
        thread-safe, so warnings are left alone in the client's process).

    Returns
    -------
    diffpy.crystalnet.solver.batch_records.BatchRecord
    """
    from diffpy.crystalnet.solver.pipeline import solve
    from diffpy.crystalnet.solver.report import write_outputs
    from diffpy.crystalnet.threads import limit_process_threads

    start = time.perf_counter()
    record = BatchRecord(pattern=str(pattern), folder=str(folder))
    settings = settings or SolveSettings()
    output = settings.output
    try:
        limit_process_threads(1)
        if client_pid is not None and client_pid != os.getpid():
            warnings.simplefilter("ignore")
            os.environ.setdefault("SPGLIB_WARNING", "OFF")
        result = solve(pattern, composition, settings, wavelength)
        write_outputs(
            result,
            folder,
            force=output.force,
            densities=output.densities,
            keep=output.keep,
        )
    except Exception as error:  # any failure of a pattern is its record
        record.message = one_line(error)
        if isinstance(error, CrystalNetInputError):
            if error.source == str(pattern):  # the record names the file
                record.message = " ".join(error.problem.split())
        else:
            record.traceback = traceback.format_exc()
    else:
        record.status = "solved"
        record.warnings = len(result.warnings)
        if len(result):
            best = result.best
            record.formula, record.spacegroup = best.formula, best.spacegroup
            record.rwp = best.rwp
        else:
            record.message = "no candidate structure"
    record.seconds = round(time.perf_counter() - start, 2)
    return record


def _finished(record):
    """Fill a skipped record from its folder's ``candidates.json``."""
    record.status = "skipped"
    try:
        path = Path(record.folder) / FINISHED_NAME
        data = json.loads(path.read_text(encoding="utf-8"))
        record.warnings = len(data.get("warnings", []))
        best = (data.get("candidates") or [{}])[0]
    except (OSError, ValueError, AttributeError, IndexError) as error:
        record.message = f"already solved; {FINISHED_NAME}: {error}"
        return record
    record.formula = best.get("formula") or ""
    record.spacegroup = best.get("spacegroup") or ""
    record.rwp = best.get("rwp")
    record.message = "already solved"
    return record


# ---------------------------------------------------------------------------
# The batch


def _plan(patterns, compositions, wavelength, settings, out_dir):
    """The record of every pattern, and the tasks to run.

    Returns
    -------
    records : list of BatchRecord
        Per pattern: skipped, failed already, or failed with "not run"
        until its task reports.
    tasks : list of tuple
        ``(index, args of solve_pattern)``.
    """
    paths = [Path(p) for p in patterns]
    folders = {}
    for path in paths:
        other = folders.setdefault(path.stem, path)
        if other.resolve() != path.resolve():
            raise CrystalNetInputError(
                f"{other} and {path} would both be solved into "
                f"{out_dir / path.stem}; rename one",
                "patterns",
            )
    records, tasks = [], []
    for index, path in enumerate(paths):
        folder = out_dir / path.stem
        record = BatchRecord(pattern=str(path), folder=str(folder))
        records.append(record)
        found, composition = True, compositions
        if isinstance(compositions, Mapping):
            found, composition = lookup(compositions, path)
        wl = wavelength
        if isinstance(wavelength, Mapping):
            wl = lookup(wavelength, path)[1]
        if (folder / FINISHED_NAME).is_file() and not settings.output.force:
            _finished(record)
        elif not found:
            record.message = "not in the composition table"
        else:
            record.message = "not run"
            one = dataclasses.replace(
                settings,
                output=dataclasses.replace(settings.output, out=folder),
            )
            args = (str(path.resolve()), str(folder.resolve()))
            args += (composition, one, wl, os.getpid())
            tasks.append((index, args))
    return records, tasks


@contextlib.contextmanager
def _connect(client, workers, threads_per_worker, processes):
    """A ``distributed.Client``: the one given, or of a new local cluster."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - a requirement
        raise CrystalNetInputError(
            f"needs dask.distributed: pip install 'dask[distributed]' "
            f"({error})",
            "solve_many",
        ) from None
    if isinstance(client, Client):
        yield client
        return
    if client is not None:  # a scheduler address or a cluster object
        try:
            connected = Client(client)
        except (OSError, TimeoutError, ValueError) as error:
            raise CrystalNetInputError(
                f"cannot reach the Dask scheduler ({one_line(error)})",
                str(getattr(client, "scheduler_address", client)),
            ) from None
        with connected:
            yield connected
        return
    with (
        _default_malloc(),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            processes=processes,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def _default_malloc():
    """A config in which local workers keep glibc's malloc settings.

    Dask starts worker processes with ``MALLOC_TRIM_THRESHOLD_=65536``
    (memory goes back to the OS sooner); glibc then stops adapting its
    mmap threshold, and every large array of a solve is a fresh ``mmap``
    with its page faults: 8.2 instead of 6.4 CPU seconds per solve
    (measured on the example patterns of the tests).
    """
    import dask

    key = "distributed.nanny.pre-spawn-environ"
    env = dict(dask.config.get(key, default={}))
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    return dask.config.set({key: env})


def _run(client, tasks, records, progress):
    """Submit the tasks; replace their records as they complete."""
    from distributed import as_completed
    from tqdm import tqdm

    futures = {
        client.submit(solve_pattern, *args, pure=False): index
        for index, args in tasks
    }
    counts = {}
    with tqdm(total=len(futures), unit="pattern", disable=not progress) as bar:
        if progress:
            bar.write(
                f"solving {len(futures)} pattern(s) on {client}", sys.stderr
            )
        for future in as_completed(futures):
            index = futures.pop(future)
            before = records[index]
            try:
                record = future.result()
            except Exception as error:  # a lost worker, a task not run
                record = BatchRecord(pattern="", folder="")
                record.message = one_line(error)
            record.pattern, record.folder = before.pattern, before.folder
            records[index] = record
            counts[record.status] = counts.get(record.status, 0) + 1
            bar.set_postfix(counts, refresh=False)
            bar.update()
            if record.status == "failed" and progress:
                bar.write(
                    f"{record.pattern}: failed: {record.message}", sys.stderr
                )


def solve_many(
    patterns,
    compositions=None,
    settings=None,
    out_dir="solve-batch",
    client=None,
    *,
    wavelength=None,
    workers=None,
    threads_per_worker=1,
    processes=True,
    progress=False,
):
    """Solve many patterns, one solve per pattern, on a Dask cluster.

    Parameters
    ----------
    patterns : iterable of str or os.PathLike
        Pattern files, folders or glob patterns
        (:func:`~diffpy.crystalnet.solver.batch_records.find_patterns`).
        Their stems must differ: each is solved into ``out_dir/<stem>``.
    compositions : str or Mapping, optional
        One formula for every pattern, or pattern name (file name, stem or
        path) -> formula (e.g. of
        :func:`~diffpy.crystalnet.solver.batch_records.read_composition_table`);
        a pattern
        missing from the mapping fails, a None formula solves without one.
    settings : SolveSettings, optional
        What each solve does and writes, as for ``solve``; with
        ``settings.output.force`` finished patterns are solved again.
    out_dir : str or os.PathLike, optional
        The folder of the results (created): one folder per pattern and
        ``summary.csv``.
    client : distributed.Client or str or cluster, optional
        Where to run: a client, a scheduler address
        (``"tcp://host:8786"``) or a cluster object (e.g. a
        ``dask_jobqueue.SLURMCluster``).  Default: a ``LocalCluster`` of
        ``workers`` processes, started only when a pattern is left to
        solve, and closed at the end.
    wavelength : float or str or Mapping, optional
        Overrides the files' wavelength: one for all, or per pattern name.
    workers : int, optional
        Workers of the local cluster (default one per core, at most one
        per pattern to solve).
    threads_per_worker : int, optional
        Patterns a local worker solves at once (default 1; each solve runs
        on one thread).
    processes : bool, optional
        Local workers are processes (default); False runs them as threads
        of this process (tests; the solves then share the GIL).
    progress : bool, optional
        Show a progress bar on stderr, and each failure as it comes.

    Returns
    -------
    list of diffpy.crystalnet.solver.batch_records.BatchRecord
        One per pattern, in the order of ``patterns``.

    Raises
    ------
    CrystalNetInputError
        For missing files, an empty folder or glob, two patterns with the
        same stem, bad settings, an unreachable scheduler.  A pattern that
        fails to solve raises nothing: its record says why.
    """
    settings = (settings or SolveSettings()).validated()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CrystalNetInputError("exists and is not a folder", out_dir)
    found = find_patterns([patterns] if _single(patterns) else patterns)
    records, tasks = _plan(found, compositions, wavelength, settings, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped = sum(r.status == "skipped" for r in records)
    if progress and skipped:
        print(
            f"{skipped} pattern(s) already solved in {out_dir}: skipped "
            "(--force, settings.output.force, solves them again)",
            file=sys.stderr,
        )
    if tasks:
        if workers is None:
            workers = min(len(tasks), max(1, (os.cpu_count() or 1)))
        try:
            with _connect(client, workers, threads_per_worker, processes) as c:
                _run(c, tasks, records, progress)
        except KeyboardInterrupt:  # what is done so far; "not run" the rest
            write_summary(records, out_dir / SUMMARY_NAME)
            raise
    write_summary(records, out_dir / SUMMARY_NAME)
    return records


def _single(patterns):
    return isinstance(patterns, (str, os.PathLike))


# End of file
