"""Sums of peaks on a grid, background and noise for synthetic patterns.

Works on a list of sticks (2-theta positions and integrated intensities):
:func:`broaden_sticks` sums pseudo-Voigt peaks (widths and shapes from
:mod:`diffpy.crystalnet.physics.profiles`) on a 2-theta grid,
:func:`background` and :func:`add_noise` add a Chebyshev or polynomial
background and Poisson counting noise, :func:`profile_grid` makes the grid
(2-theta or Q) and :func:`synthesize_profile` does all of it for the
simulator.  The conventions are those of
:mod:`diffpy.crystalnet.physics.profiles`.
"""

import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.profiles import (
    _to_numpy,
    as_profile,
    kalpha_sticks,
    peak_widths,
    pseudo_voigt,
)

__all__ = [
    "peak_windows",
    "broaden_sticks",
    "background",
    "add_noise",
    "profile_grid",
    "synthesize_profile",
]


def peak_windows(grid, centres, fwhm, cutoff):
    """Index arrays (stick, grid point) of every peak window.

    Parameters
    ----------
    grid : array_like
        Increasing 2-theta grid of the profile.
    centres, fwhm : array_like
        Peak positions and full widths at half maximum (same unit).
    cutoff : float
        Half-width of each window in FWHM.

    Returns
    -------
    stick, point : numpy.ndarray
        For every (peak, grid point) pair inside a window, the index of
        the peak and of the grid point.
    """
    grid = _to_numpy(grid)
    centres = _to_numpy(centres)
    half = cutoff * _to_numpy(fwhm)
    lo = np.searchsorted(grid, centres - half, side="left")
    hi = np.searchsorted(grid, centres + half, side="right")
    counts = hi - lo
    total = int(counts.sum())
    stick = np.repeat(np.arange(centres.size), counts)
    starts = np.cumsum(counts) - counts
    point = lo[stick] + (np.arange(total) - starts[stick])
    return stick, point


def broaden_sticks(
    two_theta,
    intensity,
    grid,
    profile,
    wavelength=None,
    xp=np,
):
    """Sum pseudo-Voigt peaks of a list of sticks on a 2-theta grid.

    Parameters
    ----------
    two_theta : array
        Stick positions in degrees (true positions, before the zero shift).
    intensity : array
        Integrated intensities of the sticks.
    grid : array
        Increasing 2-theta values in degrees to evaluate the profile at.
    profile : Profile or dict
        Widths, shape, ``kalpha2`` and ``zero_shift`` are used here
        (background, noise and scaling are not: see
        :func:`synthesize_profile`).
    wavelength : float, optional
        Wavelength in angstrom the sticks were computed at; needed for
        crystallite-size broadening and for ``kalpha2``.
    xp : module
        numpy or torch (values differentiable; windows from the values).

    Returns
    -------
    array
        The profile on ``grid``, sum of unit-area peaks times intensities.

    Raises
    ------
    CrystalNetInputError
        For mismatched inputs, a missing wavelength or zero widths.
    """
    profile = as_profile(profile)
    if profile is None:
        raise CrystalNetInputError("no profile settings given", "profile")
    if tuple(two_theta.shape) != tuple(intensity.shape):
        raise CrystalNetInputError(
            f"{len(two_theta)} stick positions but {len(intensity)} "
            "intensities",
            "sticks",
        )
    needs_wl = profile.kalpha2 or profile.crystallite_size is not None
    if needs_wl and wavelength is None:
        raise CrystalNetInputError(
            "a wavelength is needed for kalpha2 and crystallite_size",
            "profile",
        )
    if profile.kalpha2:
        two_theta, intensity = kalpha_sticks(
            two_theta,
            intensity,
            wavelength,
            profile.kalpha2_ratio,
            xp=xp,
        )
    return _sum_peaks(
        two_theta + profile.zero_shift,
        intensity,
        grid,
        wavelength,
        profile.u,
        profile.v,
        profile.w,
        profile.eta,
        profile.crystallite_size,
        profile.microstrain,
        profile.scherrer_k,
        profile.cutoff,
        xp=xp,
    )


def _sum_peaks(
    centres,
    intensity,
    grid,
    wavelength,
    u,
    v,
    w,
    eta,
    size,
    strain,
    scherrer_k,
    cutoff,
    xp=np,
):
    """Windowed sum of pseudo-Voigt peaks (shared by numpy and torch)."""
    fwhm, mix = peak_widths(
        centres,
        wavelength,
        u,
        v,
        w,
        eta=eta,
        crystallite_size=size,
        microstrain=strain,
        scherrer_k=scherrer_k,
        xp=xp,
    )
    fwhm_np = _to_numpy(fwhm)
    if fwhm_np.size and not np.all(fwhm_np > 1e-5):
        raise CrystalNetInputError(
            "peak width is zero: give w > 0 or a crystallite size", "profile"
        )
    stick, point = peak_windows(grid, centres, fwhm_np, cutoff)
    if xp is np:
        values = intensity[stick] * pseudo_voigt(
            grid[point] - centres[stick], fwhm[stick], mix[stick]
        )
        return np.bincount(point, weights=values, minlength=len(grid))
    stick_t = xp.as_tensor(stick, device=grid.device)
    point_t = xp.as_tensor(point, device=grid.device)
    values = intensity[stick_t] * pseudo_voigt(
        grid[point_t] - centres[stick_t],
        fwhm[stick_t],
        mix[stick_t],
        xp=xp,
    )
    out = xp.zeros(grid.shape, dtype=values.dtype, device=grid.device)
    return out.index_add(0, point_t, values)


def background(grid, coefficients, kind="chebyshev", xp=np):
    """Evaluate a background on a grid.

    Parameters
    ----------
    grid : array
        The x values (2-theta or Q), increasing.
    coefficients : sequence
        Series coefficients (may be empty: zero background).
    kind : {"chebyshev", "polynomial"}
        Chebyshev polynomials of x mapped from [x_min, x_max] to [-1, 1], or
        powers of x.
    xp : module
        numpy or torch.

    Returns
    -------
    array
        The background on ``grid``.
    """
    out = 0.0 * grid
    n = len(coefficients)
    if n == 0:
        return out
    if kind == "polynomial":
        power = 1.0 + 0.0 * grid
        for c in coefficients:
            out = out + c * power
            power = power * grid
        return out
    lo, hi = grid[0], grid[-1]
    t = (2.0 * grid - (lo + hi)) / (hi - lo)
    t_prev, t_cur = 1.0 + 0.0 * grid, t
    out = coefficients[0] * t_prev
    if n > 1:
        out = out + coefficients[1] * t_cur
    for c in coefficients[2:]:
        t_prev, t_cur = t_cur, 2.0 * t * t_cur - t_prev
        out = out + c * t_cur
    return out


def add_noise(y, profile):
    """Add counting noise to a profile of expected counts.

    Parameters
    ----------
    y : numpy.ndarray
        Expected counts (negative values count as zero).
    profile : Profile or dict
        ``noise`` and ``seed`` are used.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray or None)
        Noisy counts and their standard uncertainties sqrt(max(counts, 1));
        the input and None when ``profile.noise`` is None.
    """
    profile = as_profile(profile)
    if profile is None or profile.noise is None:
        return y, None
    rng = np.random.default_rng(profile.seed)
    counts = rng.poisson(np.clip(y, 0.0, None)).astype(float)
    return counts, np.sqrt(np.maximum(counts, 1.0))


def profile_grid(two_theta_range, profile, wavelength):
    """The x grid of a profile over a 2-theta range.

    Parameters
    ----------
    two_theta_range : (float, float)
        First and last 2-theta in degrees.
    profile : Profile or dict
        ``xtype``, ``step`` and ``points`` are used.
    wavelength : float
        Wavelength in angstrom (for Q grids).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The grid in ``profile.xtype`` units and the same points in 2-theta.
    """
    profile = as_profile(profile)
    lo, hi = (float(t) for t in two_theta_range)
    if profile.xtype == "q":
        q_lo, q_hi = (
            4 * math.pi * math.sin(math.radians(t / 2)) / wavelength
            for t in (lo, hi)
        )
        x = _linear_grid(q_lo, q_hi, profile.step or 0.002, profile.points)
        s = np.clip(x * wavelength / (4 * math.pi), 0.0, 1.0)
        return x, 2.0 * np.degrees(np.arcsin(s))
    x = _linear_grid(lo, hi, profile.step or 0.01, profile.points)
    return x, x


def _linear_grid(lo, hi, step, points):
    if points is not None:
        return np.linspace(lo, hi, int(points))
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if n < 3:
        raise CrystalNetInputError(
            f"range {lo:g}-{hi:g} holds fewer than 3 steps of {step:g}",
            "profile",
        )
    return lo + step * np.arange(n)


def synthesize_profile(
    two_theta, intensity, grid, profile, wavelength=None, background_x=None
):
    """Sticks to a full synthetic profile: peaks, background, noise.

    Parameters
    ----------
    two_theta, intensity : numpy.ndarray
        Stick positions (degrees) and integrated intensities.
    grid : numpy.ndarray
        Increasing 2-theta values (degrees) to evaluate at.
    profile : Profile or dict
        All settings (see
        :class:`~diffpy.crystalnet.physics.profiles.Profile`).
    wavelength : float, optional
        Wavelength in angstrom of the sticks.
    background_x : numpy.ndarray, optional
        The grid in the units the background is defined in (Q for a Q
        pattern); default ``grid``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray or None)
        The profile (peaks scaled to ``intensity_max`` plus background, with
        noise when asked for) and its uncertainties (None without noise).
    """
    profile = as_profile(profile)
    grid = np.asarray(grid, dtype=float)
    peaks = broaden_sticks(
        np.asarray(two_theta, dtype=float),
        np.asarray(intensity, dtype=float),
        grid,
        profile,
        wavelength,
    )
    top = peaks.max() if peaks.size else 0.0
    if not top > 0:
        raise CrystalNetInputError("no peak falls within the grid", "profile")
    y = peaks * (profile.intensity_max / top)
    bx = grid if background_x is None else np.asarray(background_x, float)
    y = y + background(bx, profile.background, profile.background_type)
    return add_noise(y, profile)
