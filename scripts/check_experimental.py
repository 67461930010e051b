#!/usr/bin/env python
"""Try load_pattern and the model input on every pattern file of a folder.

Usage::

    python scripts/check_experimental.py FOLDER \
        [--wavelength SUBSTRING=WAVELENGTH ...]

For every pattern-like file under FOLDER (structure-only CIFs, .pcr/.prm
control files, spreadsheets, licences and README/SOURCE/INDEX files are
skipped) the script prints one line: loaded or refused, the format, the
wavelength and where it came from, the Q range and grid coverage, or the
reason for refusal.  A file refused only for lack of a wavelength is tried
again with the wavelength of the first ``--wavelength SUBSTRING=VALUE``
whose SUBSTRING occurs in its path (for folders whose documentation, not
the files, states the wavelength).
"""

import argparse
import os
import sys
import time

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.patterns import load_pattern
from diffpy.crystalnet.physics.model_input import N_BINS, find_grid_peaks

SKIP_EXTENSIONS = {".pcr", ".prm", ".xlsx", ".md", ".png", ".json"}
SKIP_PREFIXES = ("license", "readme", "source", "index")


def skip_reason(path):
    """Return why a file is not a pattern to check, or None."""
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1].lower()
    if ext in SKIP_EXTENSIONS or name.lower().startswith(SKIP_PREFIXES):
        return "not a pattern"
    if ext == ".cif":
        with open(path, "rb") as stream:
            text = stream.read().decode("latin-1")
        if not any(
            tag in text
            for tag in (
                "_pd_meas_counts",
                "_pd_meas_intensity",
                "_pd_proc_intensity",
            )
        ):
            return "structure-only CIF"
    return None


def try_file(path, wavelength=None):
    """Return (status, details) for one file."""
    try:
        pattern = load_pattern(path, wavelength=wavelength)
    except CrystalNetInputError as error:
        return "refused", error.problem
    meta = pattern.metadata
    if pattern.wavelength is None and pattern.xtype == "tth":
        return "no-wl", f"{meta.get('format')}; {len(pattern)} pts"
    if pattern.wavelength is None:
        wl = "in Q, no wavelength needed"
    else:
        wl = f"{pattern.wavelength:g} A ({meta.get('wavelength_origin')})"
    head = f"{meta.get('format')}; {len(pattern)} pts; {wl}"
    try:
        q_min, q_max = pattern.q_range
        model_input = pattern.to_model_input()
    except CrystalNetInputError as error:
        return "refused", f"{head}; {error.problem}"
    covered = int(model_input.mask.sum())
    peaks = find_grid_peaks(model_input).size
    return "loaded", (
        f"{head}; Q {q_min:.2f}-{q_max:.2f} 1/A; "
        f"grid {100 * covered / N_BINS:.0f} %; {peaks} peaks"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument(
        "--wavelength",
        action="append",
        default=[],
        metavar="SUBSTRING=WAVELENGTH",
        help="wavelength for files without one whose path contains "
        "SUBSTRING (repeatable)",
    )
    args = parser.parse_args(argv)
    fallbacks = [item.split("=", 1) for item in args.wavelength]
    paths = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(args.folder)
        for name in names
    )
    counts = {"loaded": 0, "refused": 0, "no-wl": 0, "skipped": 0}
    fallback_loaded = 0
    skipped = {}
    start = time.perf_counter()
    for path in paths:
        rel = os.path.relpath(path, args.folder)
        reason = skip_reason(path)
        if reason:
            counts["skipped"] += 1
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        status, details = try_file(path)
        counts[status] += 1
        if status == "no-wl":
            details += "; no wavelength in the file: refused"
            for substring, value in fallbacks:
                if substring in rel:
                    status2, details2 = try_file(path, wavelength=value)
                    details += f" | with {value}: {status2}: " + (
                        details2.split("; ", 2)[-1]
                    )
                    fallback_loaded += status2 == "loaded"
                    break
        print(f"{status:7s} {rel}: {details}")
    elapsed = time.perf_counter() - start
    print(
        f"\n{counts['loaded']} loaded, {counts['refused']} refused, "
        f"{counts['no-wl']} refused for lack of a wavelength "
        f"({fallback_loaded} of them load with the documented one), "
        f"{counts['skipped']} skipped ("
        + ", ".join(f"{v} {k}" for k, v in sorted(skipped.items()))
        + f"); {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
