"""Observed peak positions as the indexing uses them.

:func:`_observations` takes a pattern (its peaks are found with
:func:`~diffpy.crystalnet.index.peak_search.find_peaks`) or a
:class:`~diffpy.crystalnet.index.peak_search.PeakList` and returns an
:class:`_Obs`: the positions in Q (and 2-theta with the wavelength) sorted
by Q, with ``s = 1/d^2``, the zero-shift correction and the tolerance in s
of each line.  Internal to :mod:`diffpy.crystalnet.index`.
"""

import math
from dataclasses import dataclass

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = []


@dataclass
class _Obs:
    q: np.ndarray
    tth: np.ndarray  # None without wavelength
    wavelength: float
    fwhm: np.ndarray = None  # degrees 2-theta, profiles only

    @property
    def s(self):
        return (self.q / (2 * math.pi)) ** 2

    def s_tolerance(self, tol_tth, tol_q, rel=0.0):
        """Tolerance in s per line for a 2-theta (or Q) tolerance."""
        s = self.s
        if self.wavelength is not None:
            theta = np.radians(self.tth) / 2.0
            ds = (
                8.0
                * np.sin(theta)
                * np.cos(theta)
                / self.wavelength**2
                * math.radians(tol_tth)
                / 2.0
            )
        else:
            ds = 2.0 * self.q * tol_q / (4 * math.pi**2)
        return ds + 2.0 * rel * s

    def corrected_s(self, zero):
        if self.wavelength is None or zero == 0:
            return self.s
        t = np.radians(self.tth - zero) / 2.0
        return (2.0 * np.sin(t) / self.wavelength) ** 2


_NO_WAVELENGTH = (
    "indexing needs d-spacings: the pattern is in 2-theta without a "
    "wavelength (give one, e.g. --wavelength CuKa1)"
)


def _observations(pattern_or_peaks, peak_options):
    from diffpy.crystalnet.index.peak_search import PeakList, find_peaks
    from diffpy.crystalnet.physics.pattern import Pattern

    if isinstance(pattern_or_peaks, Pattern):
        if pattern_or_peaks.xtype == "tth" and (
            pattern_or_peaks.wavelength is None
        ):  # refused before the peak search, which takes seconds
            raise CrystalNetInputError(
                _NO_WAVELENGTH, pattern_or_peaks.source or "pattern"
            )
        peaks = find_peaks(pattern_or_peaks, **(peak_options or {}))
    elif isinstance(pattern_or_peaks, PeakList):
        peaks = pattern_or_peaks
    elif getattr(pattern_or_peaks, "is_pdf", False):
        raise CrystalNetInputError(
            "is a pair distribution function G(r) (PairDistribution), "
            "which cannot be indexed: index the powder pattern of the "
            "sample, or give the cell",
            pattern_or_peaks.source or "G(r)",
        )
    else:
        raise CrystalNetInputError(
            "index_pattern needs a Pattern or a PeakList, not "
            f"{type(pattern_or_peaks).__name__}",
            "indexing",
        )
    where = peaks.source or "pattern"
    if peaks.q is None:
        raise CrystalNetInputError(_NO_WAVELENGTH, where)
    q = np.asarray(peaks.q, dtype=float)
    tth = None if peaks.two_theta is None else np.asarray(peaks.two_theta)
    ok = np.isfinite(q) & (q > 0)
    if tth is not None:
        ok &= np.isfinite(tth)
    order = np.argsort(q[ok])
    q = q[ok][order]
    tth = None if tth is None else tth[ok][order]
    fwhm = None
    if peaks.kind == "profile" and peaks.xtype == "tth":
        fwhm = np.asarray(peaks.fwhm, dtype=float)[ok][order]
    return _Obs(q, tth, peaks.wavelength, fwhm), where


# End of file
