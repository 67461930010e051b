"""The measured pair distribution function type, :class:`PairDistribution`.

A G(r) is not a powder pattern: it has no 2-theta, no Q axis, no peaks to
index.  :func:`diffpy.crystalnet.io.patterns.load_pattern` returns this type
for G(r) files, and every step that needs a diffraction pattern refuses it
with a :class:`NotAPowderPattern` message as soon as it asks for ``q``,
``two_theta``, ``intensity`` or anything else only a pattern has.
"""

from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.pdf import RADIATIONS

__all__ = ["NotAPowderPattern", "PairDistribution"]


class NotAPowderPattern(CrystalNetInputError, AttributeError):
    """A PXRD-only step was given a pair distribution function."""


@dataclass(eq=False)
class PairDistribution:
    """A measured G(r).

    Parameters
    ----------
    r : array_like
        Distances (angstrom), evenly spaced and increasing.
    g : array_like
        G(r) (1/angstrom^2).
    sigma : array_like, optional
        Standard uncertainties of G.
    qmax : float, optional
        Largest Q of the Fourier transform (1/angstrom); the termination
        ripples of a calculated G(r) use it.
    qdamp, qbroad : float, optional
        Instrumental Q-resolution damping and broadening, where known.
    radiation : {"X", "N"}, optional
        X-ray or neutron (the scattering weights differ).
    composition : str, optional
        Sample composition stated in the file.
    source : str, optional
        Where the data came from (named in messages).
    metadata : dict, optional
        Header values.
    """

    r: np.ndarray
    g: np.ndarray
    sigma: np.ndarray = None
    qmax: float = None
    qdamp: float = None
    qbroad: float = None
    radiation: str = None
    composition: str = None
    source: str = None
    metadata: dict = field(default_factory=dict)

    #: A G(r), not a diffraction pattern.
    is_pdf = True

    def __post_init__(self):
        where = self.source or "G(r)"
        self.r = np.array(self.r, dtype=float).ravel()
        self.g = np.array(self.g, dtype=float).ravel()
        if self.sigma is not None:
            self.sigma = np.array(self.sigma, dtype=float).ravel()
        self.metadata = dict(self.metadata or {})
        if self.radiation is not None and self.radiation not in RADIATIONS:
            raise CrystalNetInputError(
                f"radiation must be 'X' or 'N', not {self.radiation!r}", where
            )
        self._validate(where)

    def _validate(self, where):
        r, g = self.r, self.g
        if r.size < 10:
            raise CrystalNetInputError(
                f"only {r.size} points; a G(r) needs at least 10", where
            )
        if r.shape != g.shape:
            raise CrystalNetInputError(
                f"{r.size} r values but {g.size} G values", where
            )
        if self.sigma is not None and self.sigma.shape != g.shape:
            raise CrystalNetInputError(
                f"{self.sigma.size} uncertainties for {g.size} points", where
            )
        for name, values in (("r", r), ("G", g), ("dG", self.sigma)):
            if values is not None and not np.all(np.isfinite(values)):
                raise CrystalNetInputError(
                    f"{name} has NaN or infinite values", where
                )
        if self.sigma is not None and np.any(self.sigma <= 0):
            self.sigma = None  # unknown uncertainties: unit weights
        step = np.diff(r)
        if np.any(step <= 0):
            raise CrystalNetInputError("r is not strictly increasing", where)
        if np.max(np.abs(step - step.mean())) > 1e-3 * step.mean():
            raise CrystalNetInputError(
                "r is not evenly spaced (a G(r) grid is); regrid it", where
            )
        if r[0] < 0 or r[-1] > 1000:
            raise CrystalNetInputError(
                f"r from {r[0]:g} to {r[-1]:g} angstrom is not a PDF range",
                where,
            )
        for name in ("qmax", "qdamp", "qbroad"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value >= 0):
                raise CrystalNetInputError(
                    f"{name} must be >= 0, not {value!r}", where
                )
        if not np.any(g != 0):
            raise CrystalNetInputError("G(r) is zero everywhere", where)

    @property
    def dr(self):
        """The r step (angstrom)."""
        return float((self.r[-1] - self.r[0]) / (self.r.size - 1))

    def __getattr__(self, name):
        # only reached for names a PairDistribution does not have: the
        # attributes of a diffraction pattern (q, two_theta, intensity, ...)
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotAPowderPattern(
            "is a pair distribution function G(r), not a powder diffraction "
            f"pattern ({name!r} needs I(2theta) or I(Q)); fit structures to "
            "it with 'diffpy.crystalnet pdf-fit', or 'solve' it with "
            "--composition",
            self.source or "G(r)",
        )

    def __len__(self):
        return self.r.size

    def __repr__(self):
        qmax = "?" if self.qmax is None else f"{self.qmax:g}"
        return (
            f"PairDistribution({self.r.size} points, {self.r[0]:g}-"
            f"{self.r[-1]:g} A, Qmax {qmax}, radiation "
            f"{self.radiation or '?'}, source={self.source!r})"
        )
