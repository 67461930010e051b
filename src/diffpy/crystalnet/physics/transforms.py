"""Conversions between the axes of a powder pattern.

2-theta in degrees at a wavelength in angstrom and momentum transfer Q in
1/angstrom: Q = 4 pi sin(theta) / lambda.
"""

import numpy as np

__all__ = ["q_to_two_theta", "two_theta_to_q"]


def two_theta_to_q(two_theta, wavelength):
    """Convert 2-theta in degrees to Q in 1/angstrom.

    Parameters
    ----------
    two_theta : array_like
        Scattering angles 2-theta in degrees.
    wavelength : float
        Wavelength in angstrom.

    Returns
    -------
    numpy.ndarray
        Q = 4 pi sin(theta) / wavelength.
    """
    theta = np.radians(np.asarray(two_theta, dtype=float)) / 2.0
    return 4.0 * np.pi * np.sin(theta) / wavelength


def q_to_two_theta(q, wavelength):
    """Convert Q in 1/angstrom to 2-theta in degrees.

    Parameters
    ----------
    q : array_like
        Momentum transfer in 1/angstrom.
    wavelength : float
        Wavelength in angstrom.

    Returns
    -------
    numpy.ndarray
        2-theta in degrees; NaN where Q exceeds 4 pi / wavelength (not
        reachable at this wavelength).
    """
    s = np.asarray(q, dtype=float) * wavelength / (4.0 * np.pi)
    with np.errstate(invalid="ignore"):
        return np.where(
            s <= 1.0, 2.0 * np.degrees(np.arcsin(np.clip(s, 0, 1))), np.nan
        )
