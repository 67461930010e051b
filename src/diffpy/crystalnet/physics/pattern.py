"""The powder pattern type shared by the readers, the simulator and the model.

A :class:`Pattern` holds one powder diffraction profile (or a list of sticks)
on either a 2-theta axis (degrees) or a Q axis (1/angstrom), the intensity,
optional standard uncertainties, the wavelength when it is known, and where the
data came from.  Conversions use Q = 4 pi sin(theta) / lambda
(:mod:`diffpy.crystalnet.physics.transforms`); files are read by
:func:`diffpy.crystalnet.io.patterns.load_pattern`.
"""

from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.transforms import q_to_two_theta, two_theta_to_q
from diffpy.crystalnet.physics.wavelengths import resolve_wavelength

__all__ = ["Pattern"]

XTYPES = ("tth", "q")
KINDS = ("profile", "sticks")


@dataclass(eq=False)
class Pattern:
    """One powder diffraction pattern (a measured profile or sticks).

    Parameters
    ----------
    x : array_like
        The abscissa: 2-theta in degrees when ``xtype == "tth"``, Q in
        1/angstrom when ``xtype == "q"``.  Strictly increasing for profiles,
        non-decreasing for sticks.
    intensity : array_like
        Intensities, same length as ``x``; finite and not negative for
        sticks; profiles may have small negative values after background
        subtraction but not only zeros.
    xtype : {"tth", "q"}
        What ``x`` is.
    wavelength : float or str, optional
        Wavelength in angstrom or a line name (see
        :func:`~diffpy.crystalnet.physics.wavelengths.resolve_wavelength`).
        Required to convert 2-theta to Q.
    sigma : array_like, optional
        Standard uncertainties of the intensities.
    kind : {"profile", "sticks"}
        A continuous profile or a list of reflections (sticks).
    source : str, optional
        File or description the data came from (used in messages).
    metadata : dict, optional
        Header values and provenance; a new dict per pattern.
    hkls : list, optional
        Miller indices per stick (``kind == "sticks"``), any structure.

    Raises
    ------
    CrystalNetInputError
        For arrays that are empty, of different lengths, not finite, not
        sorted, or out of physical range.
    """

    x: np.ndarray
    intensity: np.ndarray
    xtype: str = "tth"
    wavelength: float = None
    sigma: np.ndarray = None
    kind: str = "profile"
    source: str = None
    metadata: dict = field(default_factory=dict)
    hkls: list = None

    #: A diffraction pattern, not a pair distribution function.
    is_pdf = False

    def __post_init__(self):
        where = self.source or "pattern"
        if self.xtype not in XTYPES:
            raise CrystalNetInputError(
                f"xtype must be one of {XTYPES}, not {self.xtype!r}", where
            )
        if self.kind not in KINDS:
            raise CrystalNetInputError(
                f"kind must be one of {KINDS}, not {self.kind!r}", where
            )
        self.x = np.array(self.x, dtype=float).ravel()
        self.intensity = np.array(self.intensity, dtype=float).ravel()
        if self.sigma is not None:
            self.sigma = np.array(self.sigma, dtype=float).ravel()
        if self.wavelength is not None:
            self.wavelength = resolve_wavelength(self.wavelength, where)
        self.metadata = dict(self.metadata or {})
        self._validate(where)

    def _validate(self, where):
        x, y = self.x, self.intensity
        if x.size == 0:
            raise CrystalNetInputError("no data points", where)
        if self.kind == "profile" and x.size < 3:
            raise CrystalNetInputError(
                f"only {x.size} data point(s); a profile needs at least 3",
                where,
            )
        if x.shape != y.shape:
            raise CrystalNetInputError(
                f"{x.size} x values but {y.size} intensities", where
            )
        if self.sigma is not None and self.sigma.shape != y.shape:
            raise CrystalNetInputError(
                f"{self.sigma.size} uncertainties for {y.size} points", where
            )
        for name, values in (
            ("x", x),
            ("intensity", y),
            ("sigma", self.sigma),
        ):
            if values is not None and not np.all(np.isfinite(values)):
                bad = int(np.count_nonzero(~np.isfinite(values)))
                raise CrystalNetInputError(
                    f"{bad} {name} value(s) are NaN or infinite", where
                )
        steps = np.diff(x)
        if self.kind == "profile" and np.any(steps <= 0):
            first = int(np.argmax(steps <= 0))
            raise CrystalNetInputError(
                "x values are not strictly increasing (first at point "
                f"{first + 1}: {x[first]:g} then {x[first + 1]:g})",
                where,
            )
        if self.kind == "sticks" and np.any(steps < 0):
            raise CrystalNetInputError("stick positions are not sorted", where)
        if self.xtype == "tth" and (x[0] < 0 or x[-1] > 180):
            raise CrystalNetInputError(
                f"2-theta from {x[0]:g} to {x[-1]:g} degrees is outside "
                "0-180",
                where,
            )
        if self.xtype == "q":
            if x[0] < 0:
                raise CrystalNetInputError(f"negative Q value {x[0]:g}", where)
            if x[-1] > 60:
                raise CrystalNetInputError(
                    f"Q up to {x[-1]:g} 1/angstrom is not an X-ray pattern "
                    "(is x in 1/nm or is this a PDF r grid?)",
                    where,
                )
            if self.wavelength is not None:
                q_max = 4 * np.pi / self.wavelength
                if x[-1] > q_max * (1 + 1e-9):
                    raise CrystalNetInputError(
                        f"Q up to {x[-1]:g} 1/angstrom exceeds 4 pi / lambda "
                        f"= {q_max:g} for wavelength {self.wavelength:g} A",
                        where,
                    )
        if np.all(y == 0):
            raise CrystalNetInputError("all intensities are zero", where)
        if self.kind == "sticks" and np.any(y < 0):
            raise CrystalNetInputError("negative stick intensities", where)
        if self.kind == "profile" and y.max() <= 0:
            raise CrystalNetInputError(
                "no positive intensity in the profile", where
            )

    @property
    def q(self):
        """Q in 1/angstrom of every point (numpy.ndarray)."""
        if self.xtype == "q":
            return self.x
        if self.wavelength is None:
            raise CrystalNetInputError(
                "pattern is in 2-theta and has no wavelength: give one "
                "(e.g. wavelength='CuKa1' or --wavelength 1.5406)",
                self.source or "pattern",
            )
        return two_theta_to_q(self.x, self.wavelength)

    @property
    def two_theta(self):
        """2-theta in degrees of every point (numpy.ndarray).

        Raises
        ------
        CrystalNetInputError
            For a Q pattern without a wavelength.
        """
        if self.xtype == "tth":
            return self.x
        if self.wavelength is None:
            raise CrystalNetInputError(
                "pattern is in Q and has no wavelength to express it in "
                "2-theta",
                self.source or "pattern",
            )
        return q_to_two_theta(self.x, self.wavelength)

    @property
    def q_range(self):
        """(Q min, Q max) in 1/angstrom."""
        q = self.q
        return float(q[0]), float(q[-1])

    def __len__(self):
        return self.x.size

    def __repr__(self):
        unit = "deg 2theta" if self.xtype == "tth" else "1/A"
        wl = "?" if self.wavelength is None else f"{self.wavelength:g} A"
        return (
            f"Pattern({self.kind}, {len(self)} points, "
            f"{self.x[0]:g}-{self.x[-1]:g} {unit}, wavelength {wl}, "
            f"source={self.source!r})"
        )

    def to_model_input(self, background="snip", strip_kalpha2=False, **kw):
        """Bin this pattern onto the CrystalNet input grid.

        See
        :func:`diffpy.crystalnet.physics.model_input.pattern_to_model_input`,
        which takes the same arguments.

        Returns
        -------
        diffpy.crystalnet.physics.model_input.ModelInput
            ``(intensity, mask)``, each of shape ``(1024,)``.
        """
        from diffpy.crystalnet.physics.model_input import (
            pattern_to_model_input,
        )

        return pattern_to_model_input(
            self, background=background, strip_kalpha2=strip_kalpha2, **kw
        )
