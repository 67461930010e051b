"""Peak profiles of synthetic powder patterns: the :class:`Profile`
settings and the width and shape formulas.

Everything here works on a list of sticks (2-theta positions and integrated
intensities), so the simulator, the dataset builder and training augmentation
share one implementation.  The width and shape functions take an array module
``xp`` (numpy or torch), so that torch code can evaluate exactly the same
formulas, differentiably.
:mod:`diffpy.crystalnet.physics.broadening` sums the peaks on a grid and adds
background and noise.

Conventions
-----------
* Angles in degrees 2-theta; Caglioti ``u, v, w`` in deg^2, so the Gaussian
  FWHM is ``sqrt(u tan^2(theta) + v tan(theta) + w)`` degrees.
* Crystallite size (Scherrer, nm) and microstrain broaden the Lorentzian
  component: ``K lambda / (D cos(theta))`` and ``4 epsilon tan(theta)``
  radians.
* The shape is a pseudo-Voigt of unit area.  Without an explicit ``eta`` the
  total width and the mixing come from the Thompson-Cox-Hastings (1987)
  approximation of the Voigt function with these Gaussian and Lorentzian
  widths; with ``eta`` the mixing is that constant.
* A stick's intensity is the integrated area of its peak.  Each peak is
  evaluated within ``cutoff`` FWHM of its centre.
* ``zero_shift`` moves every peak: observed 2-theta = true 2-theta +
  zero_shift.
"""

import math
from dataclasses import dataclass, fields

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.wavelengths import kalpha_doublet

__all__ = [
    "Profile",
    "as_profile",
    "caglioti_fwhm",
    "tch_pseudo_voigt",
    "pseudo_voigt",
    "lorentz_polarization",
    "peak_widths",
    "kalpha_sticks",
]

_LN2 = math.log(2.0)
_DEG = math.pi / 180.0
#: Thompson-Cox-Hastings coefficients of the total FWHM and of eta
_TCH_H = (1.0, 2.69269, 2.42843, 4.47163, 0.07842, 1.0)
_TCH_ETA = (1.36603, -0.47719, 0.11116)


@dataclass
class Profile:
    """Instrument and sample settings that turn sticks into a profile.

    Parameters
    ----------
    u, v, w : float
        Caglioti coefficients in deg^2: Gaussian FWHM^2 =
        u tan^2(theta) + v tan(theta) + w.
    eta : float, optional
        Constant pseudo-Voigt mixing (0 Gaussian, 1 Lorentzian).  None
        (default) uses the Thompson-Cox-Hastings mixing of the Gaussian
        (Caglioti) and Lorentzian (size, strain) widths.
    crystallite_size : float, optional
        Crystallite size in nm for Scherrer (Lorentzian) broadening.
    microstrain : float
        Microstrain epsilon (dimensionless, e.g. 1e-3), Lorentzian width
        4 epsilon tan(theta).
    scherrer_k : float
        Scherrer shape constant.
    kalpha2 : bool
        Add the K-alpha2 line of the anode that the wavelength belongs to
        (see :func:`~diffpy.crystalnet.physics.wavelengths.kalpha_doublet`);
        the
        simulator then puts K-alpha1 at the wavelength of that line.
    kalpha2_ratio : float, optional
        Ka2/Ka1 intensity ratio; None uses the table value (0.5).
    zero_shift : float
        Zero-point shift in degrees added to every peak position.
    background : sequence of float
        Background coefficients, in the units of the profile.
    background_type : {"chebyshev", "polynomial"}
        Chebyshev series on the grid range mapped to [-1, 1], or a power
        series in the grid's x values.
    noise : {None, "poisson"}
        Poisson counting noise; the noiseless profile is the expected count.
    seed : int, optional
        Seed of the noise generator.
    intensity_max : float
        Height of the tallest peak above the background (counts when noise is
        Poisson).
    step : float, optional
        Grid step in x units (deg for 2-theta, 1/angstrom for Q); default
        0.01 deg or 0.002 1/angstrom.
    points : int, optional
        Number of grid points instead of a step.
    xtype : {"tth", "q"}
        Grid in 2-theta or in Q.
    cutoff : float
        Each peak is evaluated within this many FWHM of its centre.
    """

    u: float = 0.0
    v: float = 0.0
    w: float = 0.01
    eta: float = None
    crystallite_size: float = None
    microstrain: float = 0.0
    scherrer_k: float = 0.9
    kalpha2: bool = False
    kalpha2_ratio: float = None
    zero_shift: float = 0.0
    background: tuple = ()
    background_type: str = "chebyshev"
    noise: str = None
    seed: int = None
    intensity_max: float = 100.0
    step: float = None
    points: int = None
    xtype: str = "tth"
    cutoff: float = 25.0

    def __post_init__(self):
        where = "profile"
        for name in (
            "u",
            "v",
            "w",
            "microstrain",
            "scherrer_k",
            "zero_shift",
            "intensity_max",
            "cutoff",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.floating, np.integer)
            ):
                raise CrystalNetInputError(
                    f"{name} must be a number, not {value!r}", where
                )
            if not math.isfinite(value):
                raise CrystalNetInputError(f"{name} is {value!r}", where)
            setattr(self, name, float(value))
        if self.w < 0 or self.u < 0:
            raise CrystalNetInputError("u and w must not be negative", where)
        if self.microstrain < 0:
            raise CrystalNetInputError("microstrain is negative", where)
        if self.intensity_max <= 0 or self.cutoff <= 0:
            raise CrystalNetInputError(
                "intensity_max and cutoff must be positive", where
            )
        if self.eta is not None and not 0.0 <= float(self.eta) <= 1.0:
            raise CrystalNetInputError(
                f"eta = {self.eta!r} is outside 0-1", where
            )
        if self.crystallite_size is not None and not (
            float(self.crystallite_size) > 0
        ):
            raise CrystalNetInputError(
                "crystallite_size must be positive (nm)", where
            )
        if self.kalpha2_ratio is not None and not (
            0 <= float(self.kalpha2_ratio) <= 1
        ):
            raise CrystalNetInputError("kalpha2_ratio is outside 0-1", where)
        self.background = tuple(float(c) for c in (self.background or ()))
        if self.background_type not in ("chebyshev", "polynomial"):
            raise CrystalNetInputError(
                "background_type must be 'chebyshev' or 'polynomial', not "
                f"{self.background_type!r}",
                where,
            )
        if self.noise not in (None, "poisson"):
            raise CrystalNetInputError(
                f"noise must be None or 'poisson', not {self.noise!r}", where
            )
        if self.xtype not in ("tth", "q"):
            raise CrystalNetInputError(
                f"xtype must be 'tth' or 'q', not {self.xtype!r}", where
            )
        if self.step is not None and not float(self.step) > 0:
            raise CrystalNetInputError("step must be positive", where)
        if self.points is not None and int(self.points) < 3:
            raise CrystalNetInputError("points must be at least 3", where)


def as_profile(profile):
    """Return a :class:`Profile` from a Profile, a dict or None.

    Parameters
    ----------
    profile : Profile or dict or None
        Settings; dict keys are :class:`Profile` field names.

    Returns
    -------
    Profile or None

    Raises
    ------
    CrystalNetInputError
        For unknown keys or invalid values.
    """
    if profile is None or isinstance(profile, Profile):
        return profile
    if not isinstance(profile, dict):
        raise CrystalNetInputError(
            f"profile must be a Profile or a dict, not {type(profile)}",
            "profile",
        )
    known = {f.name for f in fields(Profile)}
    unknown = sorted(set(profile) - known)
    if unknown:
        raise CrystalNetInputError(
            f"unknown profile setting(s) {unknown}; known: {sorted(known)}",
            "profile",
        )
    return Profile(**profile)


# --------------------------------------------------------------------------
# formulas, written for any array module xp (numpy or torch)


def caglioti_fwhm(two_theta, u, v, w, xp=np):
    """Gaussian FWHM in degrees from the Caglioti function.

    Parameters
    ----------
    two_theta : array
        Peak positions in degrees.
    u, v, w : float or array
        Caglioti coefficients in deg^2.
    xp : module
        numpy or torch.

    Returns
    -------
    array
        sqrt(u tan^2 theta + v tan theta + w), floored at 1e-6 deg.
    """
    t = xp.tan(two_theta * (_DEG / 2.0))
    h2 = u * t * t + v * t + w
    return xp.sqrt(xp.clip(h2, 1e-12, None))


def tch_pseudo_voigt(h_g, h_l, xp=np):
    """Total FWHM and mixing of the Thompson-Cox-Hastings pseudo-Voigt.

    Parameters
    ----------
    h_g, h_l : array
        Gaussian and Lorentzian FWHM (same units).
    xp : module
        numpy or torch.

    Returns
    -------
    (array, array)
        The pseudo-Voigt FWHM and eta.
    """
    c = _TCH_H
    h5 = (
        c[0] * h_g**5
        + c[1] * h_g**4 * h_l
        + c[2] * h_g**3 * h_l**2
        + c[3] * h_g**2 * h_l**3
        + c[4] * h_g * h_l**4
        + c[5] * h_l**5
    )
    h = h5**0.2
    q = h_l / h
    eta = _TCH_ETA[0] * q + _TCH_ETA[1] * q**2 + _TCH_ETA[2] * q**3
    return h, eta


def pseudo_voigt(dx, fwhm, eta, xp=np):
    """Unit-area pseudo-Voigt.

    Parameters
    ----------
    dx : array
        Distance from the peak centre.
    fwhm : array
        Full width at half maximum (same units as dx).
    eta : array
        Lorentzian fraction.
    xp : module
        numpy or torch.

    Returns
    -------
    array
        eta L(dx) + (1 - eta) G(dx), both normalised to unit area.
    """
    x2 = (dx / fwhm) ** 2
    gauss = (2.0 * math.sqrt(_LN2 / math.pi)) / fwhm * xp.exp(-4 * _LN2 * x2)
    lorentz = (2.0 / math.pi) / fwhm / (1.0 + 4.0 * x2)
    return eta * lorentz + (1.0 - eta) * gauss


def lorentz_polarization(theta, xp=np):
    """Lorentz-polarisation factor of XRDCalculator.

    Parameters
    ----------
    theta : array
        Bragg angle theta in radians.
    xp : module
        numpy or torch.

    Returns
    -------
    array
        (1 + cos^2 2theta) / (sin^2 theta cos theta).
    """
    cos2t = xp.cos(2 * theta)
    sint = xp.sin(theta)
    return (1 + cos2t**2) / (sint**2 * xp.cos(theta))


def peak_widths(
    two_theta,
    wavelength,
    u,
    v,
    w,
    eta=None,
    crystallite_size=None,
    microstrain=0.0,
    scherrer_k=0.9,
    xp=np,
):
    """FWHM (degrees) and pseudo-Voigt mixing of peaks at two_theta.

    Parameters
    ----------
    two_theta : array
        Peak positions in degrees.
    wavelength : float
        Wavelength in angstrom (Scherrer broadening).
    u, v, w : float or array
        Caglioti coefficients in deg^2.
    eta : float or array, optional
        Constant mixing; None for Thompson-Cox-Hastings.
    crystallite_size : float or array, optional
        Crystallite size in nm.
    microstrain : float or array
        Microstrain epsilon.
    scherrer_k : float
        Scherrer constant.
    xp : module
        numpy or torch.

    Returns
    -------
    (array, array)
        FWHM in degrees and eta.
    """
    h_g = caglioti_fwhm(two_theta, u, v, w, xp=xp)
    theta = two_theta * (_DEG / 2.0)
    h_l = 4.0 * microstrain * xp.tan(theta) / _DEG
    if crystallite_size is not None:
        size_a = crystallite_size * 10.0
        h_l = h_l + scherrer_k * wavelength / (size_a * xp.cos(theta)) / _DEG
    h, tch_eta = tch_pseudo_voigt(h_g, h_l, xp=xp)
    if eta is None:
        return h, tch_eta
    return h, eta + 0.0 * h


def kalpha_sticks(two_theta, intensity, wavelength, ratio=None, xp=np):
    """Split sticks into their K-alpha1 and K-alpha2 lines.

    Parameters
    ----------
    two_theta : array
        Stick positions in degrees computed at ``wavelength``.
    intensity : array
        Stick intensities including the Lorentz-polarisation factor of
        XRDCalculator at ``two_theta``.
    wavelength : float
        The wavelength the sticks were computed at: Ka1, Ka2 or Ka of an anode
        in :data:`~diffpy.crystalnet.physics.wavelengths.KALPHA_DOUBLETS`.
    ratio : float, optional
        Ka2/Ka1 intensity ratio; None uses the table value.
    xp : module
        numpy or torch.

    Returns
    -------
    (array, array)
        Positions and intensities of the Ka1 sticks followed by the Ka2
        sticks that are reachable (sin theta < 1).  The form factors depend
        on d only, so each line keeps ``|F|^2`` and gets its own LP factor.

    Raises
    ------
    CrystalNetInputError
        If the wavelength is not a K-alpha line.
    """
    doublet = kalpha_doublet(float(wavelength))
    if doublet is None:
        raise CrystalNetInputError(
            f"kalpha2 needs a K-alpha wavelength, not {wavelength:g} A",
            "profile",
        )
    ka1, ka2, table_ratio = doublet
    ratio = table_ratio if ratio is None else float(ratio)
    theta = two_theta * (_DEG / 2.0)
    sin_t = xp.sin(theta)
    lp = lorentz_polarization(theta, xp=xp)
    out_t, out_i = [], []
    for lam, weight in ((ka1, 1.0), (ka2, ratio)):
        s = sin_t * (lam / wavelength)
        keep = _to_numpy(s) < 1.0 - 1e-12
        if xp is not np:
            keep = xp.as_tensor(keep, device=s.device)
        theta_l = xp.arcsin(s[keep])
        out_t.append(2.0 * theta_l / _DEG)
        out_i.append(
            weight
            * intensity[keep]
            / lp[keep]
            * lorentz_polarization(theta_l, xp=xp)
        )
    cat = xp.cat if hasattr(xp, "cat") else xp.concatenate
    return cat(out_t), cat(out_i)


def _to_numpy(a):
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)
