"""The manifest of a built dataset: global deduplication and counts.

Deduplication (same reduced formula and space group, the paper's rule: the
entry from the lowest block and record wins) is global and therefore done
when the manifest is written, by :func:`finalize_dataset`, which also
trims the dataset to the requested size; readers use only the entries the
manifest keeps (:func:`load_manifest`).
"""

import json
import logging
import platform
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from diffpy.crystalnet.datasets.shards import read_shard_meta, shard_paths
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import sha256_file, write_json

__all__ = [
    "MANIFEST",
    "block_of",
    "entry_key",
    "finalize_dataset",
    "load_manifest",
]

#: the logger of the dataset build (its warnings keep the builder's name)
log = logging.getLogger("diffpy.crystalnet.datasets.builder")

#: file name of the manifest in a dataset folder
MANIFEST = "manifest.json"


def entry_key(formula, spacegroup):
    """Deduplication key: reduced formula and space group (the paper's).

    Parameters
    ----------
    formula : str
        Reduced formula.
    spacegroup : int
        Space group number.

    Returns
    -------
    str
        ``"<formula>|<spacegroup>"``, e.g. ``"NaCl|225"``.
    """
    return f"{formula}|{int(spacegroup)}"


def block_of(path):
    """Global block number of a shard file.

    Parameters
    ----------
    path : str or os.PathLike
        A shard file named after
        :data:`~diffpy.crystalnet.datasets.shards.SHARD_PATTERN`.

    Returns
    -------
    int
    """
    return int(Path(path).stem.split("-")[1])


def _library_versions():
    out = {}
    for name in (
        "diffpy.crystalnet",
        "numpy",
        "pymatgen",
        "spglib",
        "pyxtal",
        "h5py",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out


def _build_manifest(out, build, wanted, hashes):
    """The manifest: the first ``wanted`` unique entries and their counts."""
    from pymatgen.core import Composition

    seen = set()
    shards = []
    counts = {"by_split": {}, "by_system": {}, "by_source": {}}
    by_system_split = {}
    spacegroups, nsites, elements = {}, {}, {}
    skipped, records, duplicates = {}, 0, 0
    for path in sorted(shard_paths(out), key=block_of):
        meta = read_shard_meta(path)
        attrs = meta.get("attrs", {})
        records += int(attrs.get("records", meta["count"]))
        for reason, count in attrs.get("skipped", {}).items():
            skipped[reason] = skipped.get(reason, 0) + count
        order = np.argsort(meta["record"], kind="stable")
        kept = []
        for i in order:
            key = entry_key(meta["formula"][i], meta["spacegroup"][i])
            if key in seen:
                duplicates += 1
                continue
            if len(seen) >= wanted:
                break
            seen.add(key)
            kept.append(int(i))
            split, system = meta["split"][i], meta["system"][i]
            source = meta["source"][i]
            for name, value in (
                ("by_split", split),
                ("by_system", system),
                ("by_source", source),
            ):
                counts[name][value] = counts[name].get(value, 0) + 1
            pair = f"{system}/{split}"
            by_system_split[pair] = by_system_split.get(pair, 0) + 1
            sg = str(int(meta["spacegroup"][i]))
            spacegroups[sg] = spacegroups.get(sg, 0) + 1
            ns = str(int(meta["nsites"][i]))
            nsites[ns] = nsites.get(ns, 0) + 1
            for element in Composition(meta["formula"][i]).elements:
                elements[element.symbol] = elements.get(element.symbol, 0) + 1
        shards.append(
            {
                "file": path.name,
                "count": int(meta["count"]),
                "kept": sorted(kept),
                "sha256": sha256_file(path) if hashes else None,
            }
        )
    manifest = {
        "format": "diffpy.crystalnet dataset",
        "grid_size": int(build["settings"]["grid_size"]),
        "settings": build["settings"],
        "sources": build["sources"],
        "entries": len(seen),
        "requested": wanted,
        "records_seen": records,
        "duplicates_dropped": duplicates,
        "skipped": skipped,
        "counts": {
            **counts,
            "by_system_split": by_system_split,
            "by_spacegroup": spacegroups,
            "by_nsites": nsites,
            "by_element": elements,
        },
        "shards": shards,
        "versions": _library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return manifest


def finalize_dataset(out, hashes=True):
    """Deduplicate across shards, trim to size and write the manifest.

    Entries are taken in block order, then record order; the first entry
    of each (reduced formula, space group) key is kept, up to the number
    of structures requested in the build settings.

    Parameters
    ----------
    out : str or os.PathLike
        The dataset folder.
    hashes : bool, optional
        Record the SHA-256 of every shard.

    Returns
    -------
    dict
        The manifest (also written to ``manifest.json``).
    """
    out = Path(out)
    build_path = out / "build.json"
    if not build_path.exists():
        raise CrystalNetInputError("not a dataset folder (no build.json)", out)
    build = json.loads(build_path.read_text())
    wanted = int(build["settings"]["n"])
    manifest = _build_manifest(out, build, wanted, hashes)
    if manifest["entries"] < wanted:
        log.warning(
            "%s: %d unique structures, fewer than the %d requested",
            out,
            manifest["entries"],
            wanted,
        )
    write_json(out / MANIFEST, manifest, indent=1, sort_keys=True)
    return manifest


def load_manifest(folder):
    """Read a dataset's manifest.

    Parameters
    ----------
    folder : str or os.PathLike
        The dataset folder.

    Returns
    -------
    dict
        The manifest written by :func:`finalize_dataset`.

    Raises
    ------
    CrystalNetInputError
        If the folder holds no (readable) manifest.
    """
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CrystalNetInputError(
            "no manifest.json: not a finished dataset (run "
            "'diffpy.crystalnet dataset build' to completion)",
            folder,
        ) from None
    except (OSError, ValueError) as error:
        raise CrystalNetInputError(
            f"unreadable manifest ({error})", path
        ) from None
