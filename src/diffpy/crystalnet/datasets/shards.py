"""HDF5 shards: the on-disk format of CrystalNet training data.

A dataset is a folder of shard files ``shard-XXXXXX.h5`` plus
``manifest.json``.  Each shard holds the entries of one block of source
records, written atomically (to a temporary file, then renamed), so a shard
file that exists is complete.

Per entry (``N`` entries in a shard, ``n`` the grid size):

=====================  =======================  ===========================
dataset                shape, type              content
=====================  =======================  ===========================
``pattern``            (N, 1024) float32        binned stick pattern, max 1
``composition``        (N, 118) float32         atom fractions, index Z-1
``cmed``               (N, n, n, n) float16     density (e/A^3) on the cell
``lattice``            (N, 3, 3) float64        CMED cell, rows a, b, c (A)
``sticks_q``           (N,) vlen float32        stick positions Q (1/A)
``sticks_intensity``   (N,) vlen float32        stick intensities (max 100)
``spacegroup``         (N,) int16               international number
``nsites``             (N,) int16               atoms in the CMED cell
``record``             (N,) int64               index in the source stream
``seed``               (N,) int64               seed of generated records
``formula``            (N,) vlen str            reduced formula
``system``             (N,) vlen str            crystal system
``split``              (N,) vlen str            train, val or test
``source``, ``id``     (N,) vlen str            provenance
``parent``             (N,) vlen str            decorated parent (or empty)
``structure``          (N,) vlen str            CMED cell, pymatgen JSON
=====================  =======================  ===========================

Storage precision: the density is stored as IEEE half precision, whose
relative rounding error is at most 2**-11 (0.05 %); values below 6e-5 e/A^3
(subnormal) lose relative precision but are far below any meaningful density.
Each density is one HDF5 chunk, compressed with shuffle + gzip level 4.
"""

import json
import os
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import atomic_output

__all__ = [
    "FORMAT_VERSION",
    "SHARD_PATTERN",
    "write_shard",
    "read_shard_meta",
    "shard_paths",
    "ShardReader",
]

FORMAT_VERSION = 1
SHARD_PATTERN = "shard-{:06d}.h5"
_STRINGS = (
    "formula",
    "system",
    "split",
    "source",
    "id",
    "parent",
    "structure",
)
_INTS = {"spacegroup": np.int16, "nsites": np.int16, "record": np.int64}


def shard_paths(folder):
    """Return the complete shard files of a dataset folder, sorted.

    Parameters
    ----------
    folder : str or os.PathLike
        The dataset folder.

    Returns
    -------
    list of pathlib.Path
    """
    return sorted(Path(folder).glob("shard-*.h5"))


def write_shard(path, entries, grid_size, attrs=None):
    """Write one shard atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; a temporary file beside it is renamed onto it at the
        end, so a crash never leaves a partial shard under this name.
    entries : list of dict
        One dict per entry with the keys listed in the module docstring
        (``pattern``, ``composition``, ``cmed``, ``lattice``, ``sticks_q``,
        ``sticks_intensity``, ``spacegroup``, ``nsites``, ``record``,
        ``seed`` and the string fields).  May be empty.
    grid_size : int
        The CMED grid size ``n``.
    attrs : dict, optional
        Extra file attributes (JSON-serialisable values).
    """
    import h5py

    count = len(entries)
    n = int(grid_size)
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["format_version"] = FORMAT_VERSION
        h5.attrs["count"] = count
        h5.attrs["grid_size"] = n
        for key, value in (attrs or {}).items():
            h5.attrs[key] = json.dumps(value)
        h5.create_dataset(
            "pattern",
            data=_stack(entries, "pattern", (0, 1024), np.float32),
            compression="gzip",
            shuffle=True,
        )
        h5.create_dataset(
            "composition",
            data=_stack(entries, "composition", (0, 118), np.float32),
            compression="gzip",
            shuffle=True,
        )
        h5.create_dataset(
            "cmed",
            data=_stack(entries, "cmed", (0, n, n, n), np.float16),
            chunks=(1, n, n, n) if count else None,
            compression="gzip",
            compression_opts=4,
            shuffle=True,
        )
        h5.create_dataset(
            "lattice", data=_stack(entries, "lattice", (0, 3, 3), float)
        )
        vfloat = h5py.vlen_dtype(np.float32)
        for key in ("sticks_q", "sticks_intensity"):
            data = h5.create_dataset(key, (count,), dtype=vfloat)
            for i, entry in enumerate(entries):
                data[i] = np.asarray(entry[key], dtype=np.float32)
        for key, dtype in _INTS.items():
            h5.create_dataset(
                key, data=np.array([e[key] for e in entries], dtype=dtype)
            )
        h5.create_dataset(
            "seed",
            data=np.array(
                [-1 if e.get("seed") is None else e["seed"] for e in entries],
                dtype=np.int64,
            ),
        )
        vstr = h5py.string_dtype()
        for key in _STRINGS:
            h5.create_dataset(
                key,
                data=np.array(
                    [str(e.get(key) or "") for e in entries], dtype=object
                ),
                dtype=vstr,
                compression="gzip" if key == "structure" else None,
            )


def _stack(entries, key, empty_shape, dtype):
    if not entries:
        return np.zeros(empty_shape, dtype=dtype)
    return np.stack([np.asarray(e[key], dtype=dtype) for e in entries])


def read_shard_meta(path):
    """Read the light per-entry metadata of a shard (no densities).

    Parameters
    ----------
    path : str or os.PathLike
        A shard file.

    Returns
    -------
    dict
        ``count``, ``grid_size`` and arrays ``formula``, ``system``,
        ``split``, ``source``, ``id``, ``parent``, ``spacegroup``,
        ``nsites``, ``record``, ``seed``.

    Raises
    ------
    CrystalNetInputError
        If the file is not a readable shard.
    """
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            meta = {
                "count": int(h5.attrs["count"]),
                "grid_size": int(h5.attrs["grid_size"]),
            }
            for key in _STRINGS:
                if key != "structure":
                    meta[key] = np.array(h5[key].asstr()[()], dtype=object)
            for key in (*_INTS, "seed"):
                meta[key] = h5[key][()]
            for key, value in h5.attrs.items():
                if key not in ("count", "grid_size", "format_version"):
                    meta.setdefault("attrs", {})[key] = json.loads(value)
    except (OSError, KeyError) as error:
        raise CrystalNetInputError(
            f"not a readable diffpy.crystalnet shard ({error})", path
        ) from None
    return meta


class ShardReader:
    """Random access to the entries of one shard, opened lazily.

    The file handle is opened on first access in the process that uses it,
    so a reader can be passed to DataLoader worker processes.

    Parameters
    ----------
    path : str or os.PathLike
        A shard file.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._h5 = None
        self._pid = None

    def _file(self):
        import h5py

        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def __getstate__(self):
        return {"path": self.path, "_h5": None, "_pid": None}

    def __len__(self):
        return int(self._file().attrs["count"])

    def get(self, index, keys=("pattern", "composition", "cmed")):
        """Return the requested fields of one entry.

        Parameters
        ----------
        index : int
            Entry index within the shard.
        keys : sequence of str
            Dataset names (see the module docstring).

        Returns
        -------
        dict
            Numeric fields as numpy arrays (``cmed`` as float32), string
            fields as str.
        """
        h5 = self._file()
        out = {}
        for key in keys:
            value = h5[key][index]
            if key in _STRINGS:
                value = value.decode() if isinstance(value, bytes) else value
            elif key == "cmed":
                value = value.astype(np.float32)
            out[key] = value
        return out

    def structure(self, index):
        """Return the CMED cell of an entry as a pymatgen Structure."""
        from pymatgen.core import Structure

        text = self.get(index, ("structure",))["structure"]
        return Structure.from_dict(json.loads(text))

    def close(self):
        """Close the file handle if open."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None
