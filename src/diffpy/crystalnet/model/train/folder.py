"""The run folder of a training run: ``settings.json`` and ``log.csv``.

A new run writes its settings; a resumed run checks that the settings given
agree with the stored ones (only the run control of :data:`RUN_CONTROL`
may change) and keeps the log rows up to the step it resumes from.
"""

import csv
import json
from dataclasses import fields
from pathlib import Path

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import write_json
from diffpy.crystalnet.model.train.settings import RUN_CONTROL, TrainSettings

__all__ = ["LOG_COLUMNS", "CsvLog", "prepare_run"]

#: columns of ``log.csv``
LOG_COLUMNS = (
    "step",
    "epoch",
    "lr",
    "loss",
    "reconstruction",
    "kl_xrd",
    "kl_formula",
    "val_ssim",
    "val_psnr",
    "val_pearson",
    "val_zero_ssim",
    "seconds",
    "points_per_s",
)


def prepare_run(out, settings, given, resume, force, is_main):
    """Create (or check, when resuming) the run folder; return its settings.

    Parameters
    ----------
    out : str or os.PathLike
        The run folder.
    settings : TrainSettings
        The settings of a new run.
    given : dict
        The options given explicitly (checked against a resumed run's).
    resume : bool
        Continue the run in ``out``: its stored settings, updated with
        the run control of :data:`RUN_CONTROL`, are returned.
    force : bool
        Start again in a folder that is not empty.
    is_main : bool
        This is the process that writes files (rank 0).

    Returns
    -------
    out : pathlib.Path
        The run folder.
    settings : TrainSettings
        The settings of the run.

    Raises
    ------
    CrystalNetInputError
        When there is no run to resume, the settings clash with the
        stored ones, or a new run's folder is not empty without ``force``.
    """
    out = Path(out)
    path = out / "settings.json"
    if resume:
        if not path.is_file():
            raise CrystalNetInputError(
                "no run to resume here (settings.json missing)", out
            )
        stored = json.loads(path.read_text())
        clash = {
            k: (stored.get(k), v)
            for k, v in given.items()
            if k not in RUN_CONTROL and k in stored and stored[k] != v
        }
        if clash:
            text = ", ".join(
                f"{k}: run has {a!r}, given {b!r}"
                for k, (a, b) in clash.items()
            )
            raise CrystalNetInputError(
                f"resume with different settings ({text})", out
            )
        merged = {**stored, **{k: v for k, v in given.items()}}
        known = {f.name for f in fields(TrainSettings)}
        settings = TrainSettings(
            **{k: v for k, v in merged.items() if k in known}
        )
        return out, settings
    if out.exists() and any(out.iterdir()):
        if not force:
            raise CrystalNetInputError(
                "run folder exists and is not empty; use resume to continue "
                "it or force to start again",
                out,
            )
        if is_main:
            for name in ("last.pt", "best.pt", "log.csv", "settings.json"):
                if (out / name).exists():
                    (out / name).unlink()
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, settings.to_dict(), indent=2, default=str)
    return out, settings


class CsvLog:
    """The ``log.csv`` of a run, one row per logged step.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (rewritten with its header).
    resume_step : int, optional
        Keep the rows of an existing file up to this step.
    """

    def __init__(self, path, resume_step=None):
        self.path = Path(path)
        rows = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as stream:
                rows = [
                    r
                    for r in csv.DictReader(stream)
                    if int(r["step"]) <= resume_step
                ]
        with open(self.path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row):
        """Append a row (dict; missing columns are left empty)."""
        with open(self.path, "a", newline="") as stream:
            writer = csv.DictWriter(stream, LOG_COLUMNS)
            writer.writerow({k: row.get(k, "") for k in LOG_COLUMNS})
