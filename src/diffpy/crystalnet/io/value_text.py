"""Numbers as text in the fixed layouts of volumetric files.

Formatting a density grid value by value in Python dominates writing a
CHGCAR or cube file; these helpers build one format string for the whole
block and apply it once (``benchmarks/bench_volumetric.py``).
"""

import numpy as np

__all__ = ["fortran_block", "lines_of"]


def _fortran_parts(values):
    """Sign, 11 mantissa digits and exponent of ``0.ddddddddddd E+ee``."""
    v = np.asarray(values, dtype=float)
    mag = np.abs(v)
    exp10 = np.zeros(v.shape, dtype=np.int64)
    # two exponent digits, as VASP writes them: below 1e-99 is zero
    nonzero = mag >= 1e-99
    mag = np.where(nonzero, mag, 0.0)
    exp10[nonzero] = np.floor(np.log10(mag[nonzero])).astype(np.int64)
    digits = np.rint(mag * 10.0 ** (10 - exp10)).astype(np.int64)
    # log10 rounding and mantissas that round up to 10.000...
    over = digits >= 10**11
    digits[over] = np.rint(digits[over] / 10.0).astype(np.int64)
    exp10[over] += 1
    under = nonzero & (digits < 10**10)
    exp10[under] -= 1
    digits[under] = np.rint(mag[under] * 10.0 ** (10 - exp10[under]))
    return v < 0, digits, exp10 + 1


def fortran_block(values, per_line):
    """Values as pymatgen's CHGCAR writer formats them, ``per_line`` a
    line (a leading space, one between values)."""
    negative, digits, exponent = _fortran_parts(values)
    signs = np.where(negative, "-", "0").tolist()
    items = [
        item
        for triple in zip(signs, digits.tolist(), exponent.tolist())
        for item in triple
    ]
    count = len(signs)
    fields = ["%s.%011dE%+03d"] * count
    lines = []
    for start in range(0, count, per_line):
        stop = min(start + per_line, count)
        tail = "\n" if stop - start == per_line else " \n"
        lines.append(" " + " ".join(fields[start:stop]) + tail)
    return "".join(lines) % tuple(items)


def lines_of(values, fmt, per_line):
    """``values`` formatted with ``fmt``, ``per_line`` a line."""
    count = len(values)
    full, rest = divmod(count, per_line)
    template = (" ".join([fmt] * per_line) + "\n") * full
    if rest:
        template += " ".join([fmt] * rest) + "\n"
    return template % tuple(np.asarray(values, dtype=float).tolist())
