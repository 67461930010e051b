"""Training augmentation: pattern perturbations and composition priors.

Everything here works on one stored dataset entry (see
:mod:`diffpy.crystalnet.datasets.shards`) and a
:class:`numpy.random.Generator`, so a draw depends only on the generator that
:class:`~diffpy.crystalnet.datasets.torch_dataset.CMEDDataset` seeds with
``(seed, epoch, index)``: training is reproducible and resumable whatever the
number of loader workers.

Two pattern augmentations, returning ``(pattern, mask)`` on the model's
1024-bin grid (2-theta 0-180 deg at Mo K-alpha):

* the paper's (:func:`paper_augment`): the stored binned sticks, shifted
  by a whole number of bins (< 0.6 deg), plus N(0, 0.001^2) noise and ReLU;
* a simulated lab measurement (:func:`lab_augment`), built from the stored
  sticks and mapped onto the Mo K-alpha grid the way
  :func:`~diffpy.crystalnet.physics.model_input.pattern_to_model_input`
  maps a real measurement: a random wavelength (Cu, Co, Fe, Cr, Mo, Ag K-alpha,
  with or without the K-alpha2 line, or a synchrotron wavelength), a random
  scan range in 2-theta (Q-range truncation: bins outside the scan are masked),
  pseudo-Voigt peaks of random Caglioti width and crystallite size, a zero
  shift, Poisson counting noise and the residual of an imperfect background
  subtraction.

The lab path evaluates each peak's *average over each grid bin* exactly
(differences of the pseudo-Voigt's cumulative distribution at the bin
edges), which is what binning a finely stepped profile does; in the limit of
zero width it gives :func:`~diffpy.crystalnet.physics.model_input.bin_sticks`
exactly.  It never builds the fine lab profile, which is what keeps it at
about a millisecond per pattern (``benchmarks/bench_training.py``).

The composition priors are drawn by
:class:`~diffpy.crystalnet.datasets.composition_prior.CompositionPrior`.
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.model_input import (
    BIN_WIDTH,
    GRID_WAVELENGTH,
    N_BINS,
)
from diffpy.crystalnet.physics.wavelengths import WAVELENGTHS

__all__ = [
    "AugmentSettings",
    "PatternAugmenter",
    "lab_augment",
    "paper_augment",
]

_DEG = math.pi / 180.0
_EDGES = np.arange(N_BINS + 1) * BIN_WIDTH
_CENTRES = (np.arange(N_BINS) + 0.5) * BIN_WIDTH
#: lab sources: (nominal wavelength, K-alpha1, K-alpha2) in angstrom, from
#: the one table of emission lines
_ANODES = {
    anode: tuple(WAVELENGTHS[anode + line] for line in ("Ka", "Ka1", "Ka2"))
    for anode in ("Cu", "Co", "Fe", "Cr", "Mo", "Ag")
}


@dataclass
class AugmentSettings:
    """Probabilities and ranges of the pattern augmentation.

    Parameters
    ----------
    p_lab : float
        Probability of the simulated lab measurement; otherwise the paper's
        augmentation of the stored binned sticks.
    noise_std : float
        Paper path: standard deviation of the Gaussian noise (then ReLU).
    max_shift : float
        Paper path: largest shift in degrees 2-theta (whole bins).
    sources : dict
        Lab path: relative weights of the sources (anode names of
        ``Cu, Co, Fe, Cr, Mo, Ag`` and ``"synchrotron"``).
    p_kalpha2 : float
        Probability that a K-alpha source keeps its K-alpha2 line (else
        monochromated K-alpha1).
    kalpha2_ratio : float
        Intensity ratio K-alpha2 / K-alpha1.
    synchrotron_range : (float, float)
        Wavelength range (angstrom) of synchrotron sources.
    start_range, end_range : (float, float)
        Ranges (degrees 2-theta at the source) of the scan start and end.
    w_range : (float, float)
        Caglioti ``w`` (deg^2), drawn log-uniformly.
    u_max : float
        Caglioti ``u`` (deg^2), uniform in [0, u_max].
    p_size : float
        Probability of crystallite-size broadening.
    size_range : (float, float)
        Crystallite size in nm, log-uniform.
    p_zero_shift : float
        Probability of a zero shift.
    zero_shift_std : float
        Standard deviation of the zero shift in degrees (at the source).
    p_noise : float
        Probability of counting noise.
    counts_range : (float, float)
        Counts at the tallest peak, log-uniform.
    background_range : (float, float)
        Background level relative to the tallest peak (adds counting
        noise), log-uniform.
    p_residual : float
        Probability of a residual background (imperfect subtraction).
    residual_max : float
        Largest residual background relative to the tallest peak.
    cutoff : float
        Peaks are evaluated within this many FWHM of their centre (the
        window is capped at ``max_window`` bins).
    max_window : int
        Largest window in bins on each side of a peak.
    """

    p_lab: float = 0.5
    noise_std: float = 0.001
    max_shift: float = 0.6
    sources: dict = field(
        default_factory=lambda: {
            "Cu": 0.5,
            "Co": 0.05,
            "Fe": 0.05,
            "Cr": 0.05,
            "Mo": 0.15,
            "Ag": 0.05,
            "synchrotron": 0.15,
        }
    )
    p_kalpha2: float = 0.7
    kalpha2_ratio: float = 0.5
    synchrotron_range: tuple = (0.2, 1.0)
    start_range: tuple = (3.0, 15.0)
    end_range: tuple = (60.0, 150.0)
    w_range: tuple = (1e-4, 0.03)
    u_max: float = 0.03
    p_size: float = 0.5
    size_range: tuple = (10.0, 300.0)
    p_zero_shift: float = 0.5
    zero_shift_std: float = 0.05
    p_noise: float = 0.8
    counts_range: tuple = (300.0, 1e5)
    background_range: tuple = (0.01, 0.5)
    p_residual: float = 0.5
    residual_max: float = 0.03
    cutoff: float = 20.0
    max_window: int = 48

    def __post_init__(self):
        for name in (
            "p_lab",
            "p_kalpha2",
            "p_size",
            "p_zero_shift",
            "p_noise",
            "p_residual",
        ):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise CrystalNetInputError(
                    f"must be a probability in [0, 1], got {value!r}", name
                )
        unknown = set(self.sources) - set(_ANODES) - {"synchrotron"}
        if unknown:
            raise CrystalNetInputError(
                f"unknown sources {sorted(unknown)}; use "
                f"{sorted(_ANODES)} or 'synchrotron'",
                "sources",
            )
        weights = np.array(list(self.sources.values()), dtype=float)
        if weights.size == 0 or np.any(weights < 0) or weights.sum() <= 0:
            raise CrystalNetInputError(
                "need non-negative weights with a positive sum", "sources"
            )
        if self.noise_std < 0 or self.max_shift < 0:
            raise CrystalNetInputError(
                "noise_std and max_shift must not be negative", "augment"
            )

    def to_dict(self):
        """Return the settings as plain data (for run logs)."""
        return asdict(self)


def _log_uniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def paper_augment(pattern, rng, noise_std=0.001, max_shift=0.6):
    """The paper's augmentation of a binned pattern.

    Parameters
    ----------
    pattern : numpy.ndarray
        (1024,) binned pattern.
    rng : numpy.random.Generator
        Random source.
    noise_std : float, optional
        Standard deviation of the additive Gaussian noise.
    max_shift : float, optional
        The pattern moves by a whole number of bins, uniformly drawn with
        ``|shift| < max_shift`` degrees (bins that enter are zero).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The pattern (ReLU of pattern + noise, rescaled to max 1) and an
        all-ones mask, float32.
    """
    out = np.asarray(pattern, dtype=np.float32).copy()
    k = int(math.ceil(max_shift / BIN_WIDTH)) - 1
    shift = int(rng.integers(-k, k + 1)) if k > 0 else 0
    if shift > 0:
        out[shift:] = out[:-shift].copy()
        out[:shift] = 0.0
    elif shift < 0:
        out[:shift] = out[-shift:].copy()
        out[shift:] = 0.0
    if noise_std > 0:
        out += rng.normal(0.0, noise_std, out.shape).astype(np.float32)
        np.maximum(out, 0.0, out=out)
    peak = out.max()
    if peak > 0:
        out /= peak
    return out, np.ones(N_BINS, dtype=np.float32)


def _pv_cdf(x, eta):
    """CDF of a unit-FWHM pseudo-Voigt centred at 0 (x in FWHM units)."""
    from scipy.special import erf

    gauss = 0.5 * (1.0 + erf(2.0 * math.sqrt(math.log(2.0)) * x))
    lorentz = 0.5 + np.arctan(2.0 * x) / math.pi
    return eta * lorentz + (1.0 - eta) * gauss


def _draw_source(settings, rng):
    names = list(settings.sources)
    weights = np.array([settings.sources[n] for n in names], dtype=float)
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if name == "synchrotron":
        lam = rng.uniform(*settings.synchrotron_range)
        return name, lam, [(lam, 1.0)]
    nominal, ka1, ka2 = _ANODES[name]
    if rng.random() < settings.p_kalpha2:
        return name, nominal, [(ka1, 1.0), (ka2, settings.kalpha2_ratio)]
    return name, ka1, [(ka1, 1.0)]


def lab_augment(entry, rng, settings=None, return_info=False):
    """Simulate a lab (or synchrotron) measurement on the Mo K-alpha grid.

    Parameters
    ----------
    entry : dict
        A stored entry with ``sticks_q`` (1/angstrom) and
        ``sticks_intensity`` (integrated intensities at Mo K-alpha).
    rng : numpy.random.Generator
        Random source (the result depends only on it).
    settings : AugmentSettings, optional
        Ranges and probabilities.
    return_info : bool, optional
        Also return a dict of the drawn parameters.

    Returns
    -------
    pattern : numpy.ndarray
        (1024,) float32, max 1 over the measured bins, 0 outside.
    mask : numpy.ndarray
        (1024,) float32, 1 for bins inside the simulated scan.
    info : dict
        Only with ``return_info``.

    Notes
    -----
    A line of wavelength ``lam_l`` puts the reflection of momentum transfer
    ``Q`` at 2-theta ``2 asin(Q lam_l / 4 pi)`` (plus the zero shift); the
    data are then read with the nominal wavelength ``lam`` of the source,
    as a user would, so the apparent ``Q`` of a K-alpha2 line is
    ``Q lam_2 / lam``.  Widths in degrees at the source are mapped to the
    grid with ``d(2theta_Mo) / d(2theta) = lam_Mo cos(theta) / (lam
    cos(theta_Mo))``.  Intensities keep the stored Mo K-alpha
    Lorentz-polarisation factor:
    :func:`~diffpy.crystalnet.physics.model_input.to_grid_intensity` maps a
    measured profile back to exactly that.
    """
    s = settings or AugmentSettings()
    q = np.asarray(entry["sticks_q"], dtype=float)
    intensity = np.asarray(entry["sticks_intensity"], dtype=float)
    d = _draw_measurement(s, rng)
    # the scan, mapped to the grid: bins whose centre is inside are measured
    ratio = GRID_WAVELENGTH / d["wavelength"]
    lo_mo, hi_mo = (
        2.0 * math.degrees(math.asin(min(1.0, math.sin(t * _DEG / 2) * ratio)))
        for t in (d["start"], d["end"])
    )
    mask = (_CENTRES >= lo_mo) & (_CENTRES <= hi_mo)
    c, h, e, a = _grid_peaks(q, intensity, d, ratio)
    # only peaks that reach the scan matter
    reach = s.cutoff * h
    keep = (c + reach >= lo_mo - BIN_WIDTH) & (c - reach <= hi_mo + BIN_WIDTH)
    profile = _binned_profile(c[keep], h[keep], e[keep], a[keep], s)
    profile[~mask] = 0.0
    peak = profile.max()
    if peak > 0:
        profile /= peak
    profile = _measurement_errors(profile, mask, d, ratio, rng)
    profile = np.maximum(profile, 0.0)
    profile[~mask] = 0.0
    peak = profile.max()
    if peak > 0:
        profile /= peak
    out = (profile.astype(np.float32), mask.astype(np.float32))
    if return_info:
        info = {k: d[k] for k in _INFO_KEYS}
        return (*out, info)
    return out


#: the drawn parameters lab_augment reports with ``return_info``
_INFO_KEYS = (
    "source",
    "wavelength",
    "lines",
    "start",
    "end",
    "u",
    "w",
    "size",
    "zero_shift",
    "noise",
    "counts",
    "residual",
)


def _draw_measurement(s, rng):
    """Draw the source, scan range, profile and errors of one measurement.

    The draws are made in one fixed order, so that a generator state gives
    one measurement.
    """
    name, lam, lines = _draw_source(s, rng)
    start = rng.uniform(*s.start_range)
    end = rng.uniform(*s.end_range)
    if name == "synchrotron":
        end = min(end, 2.0 * math.degrees(math.asin(min(1.0, 0.9 * lam))))
        end = max(end, start + 10.0)
    w = _log_uniform(rng, *s.w_range)
    u = rng.uniform(0.0, s.u_max)
    size = (
        _log_uniform(rng, *s.size_range) if rng.random() < s.p_size else None
    )
    zero = (
        rng.normal(0.0, s.zero_shift_std)
        if rng.random() < s.p_zero_shift
        else 0.0
    )
    noisy = rng.random() < s.p_noise
    counts = _log_uniform(rng, *s.counts_range)
    level = _log_uniform(rng, *s.background_range)
    residual = rng.random() < s.p_residual
    res_amp = rng.uniform(0.0, s.residual_max)
    res_coef = rng.normal(0.0, 1.0, 3)
    return dict(
        source=name,
        wavelength=lam,
        lines=lines,
        start=start,
        end=end,
        u=u,
        w=w,
        size=size,
        zero_shift=zero,
        noise=noisy,
        counts=counts,
        level=level,
        residual=residual,
        residual_amplitude=res_amp,
        residual_coefficients=res_coef,
    )


def _grid_peaks(q, intensity, d, ratio):
    """Centres, widths, mixings and heights of every line's peaks on the
    Mo K-alpha grid (degrees)."""
    from diffpy.crystalnet.physics.profiles import peak_widths

    centres, widths, etas, heights = [], [], [], []
    for lam_l, weight in d["lines"]:
        sin_t = q * lam_l / (4.0 * math.pi)
        ok = sin_t < 1.0
        tth = 2.0 * np.degrees(np.arcsin(sin_t[ok])) + d["zero_shift"]
        fwhm, eta = peak_widths(
            tth,
            lam_l,
            d["u"],
            0.0,
            d["w"],
            crystallite_size=d["size"],
            microstrain=0.0,
        )
        sin_mo = np.sin(tth * (_DEG / 2.0)) * ratio
        ok2 = (sin_mo < 1.0) & (tth > 0)
        theta_mo = np.arcsin(sin_mo[ok2])
        jac = ratio * np.cos(tth[ok2] * (_DEG / 2.0)) / np.cos(theta_mo)
        centres.append(2.0 * np.degrees(theta_mo))
        widths.append(np.asarray(fwhm)[ok2] * jac)
        etas.append(np.broadcast_to(eta, tth.shape)[ok2])
        heights.append(weight * intensity[ok][ok2])
    c = np.concatenate(centres)
    h = np.maximum(np.concatenate(widths), 1e-4)
    e = np.clip(np.concatenate(etas), 0.0, 1.0)
    a = np.concatenate(heights)
    return c, h, e, a


def _binned_profile(c, h, e, a, s):
    """Pseudo-Voigt peaks integrated over each bin of the grid."""
    profile = np.zeros(N_BINS)
    if c.size:
        half = int(
            min(s.max_window, math.ceil(s.cutoff * h.max() / BIN_WIDTH) + 1)
        )
        first = np.floor(c / BIN_WIDTH).astype(int) - half
        offsets = np.arange(2 * half + 2)
        edge_idx = first[:, None] + offsets[None, :]  # (S, K+1) edges
        edges = edge_idx * BIN_WIDTH
        cdf = _pv_cdf((edges - c[:, None]) / h[:, None], e[:, None])
        contrib = a[:, None] * np.diff(cdf, axis=1)  # bins edge_idx[:, :-1]
        bins = edge_idx[:, :-1]
        inside = (bins >= 0) & (bins < N_BINS)
        profile = np.bincount(
            bins[inside], weights=contrib[inside], minlength=N_BINS
        )
    return profile


def _measurement_errors(profile, mask, d, ratio, rng):
    """Counting noise and a residual background, as drawn."""
    if d["noise"] and mask.any():
        # points of the scan averaged in each bin (0.01 deg steps)
        bin_lab = BIN_WIDTH / ratio  # roughly, at low angle
        per_bin = max(1.0, bin_lab / 0.01)
        expected = (profile + d["level"]) * d["counts"]
        noise = rng.normal(0.0, 1.0, N_BINS) * np.sqrt(expected / per_bin)
        profile = profile + noise / d["counts"]
    if d["residual"] and mask.any():
        x = np.linspace(-1.0, 1.0, N_BINS)
        curve = np.polynomial.chebyshev.chebval(x, d["residual_coefficients"])
        curve -= curve[mask].min()
        top = curve[mask].max()
        if top > 0:
            profile = profile + d["residual_amplitude"] * curve / top
    return profile


class PatternAugmenter:
    """The dataset's ``augment(entry, rng) -> (pattern, mask)`` callable.

    With probability ``settings.p_lab`` a simulated lab measurement
    (:func:`lab_augment`), otherwise the paper's augmentation of the stored
    pattern (:func:`paper_augment`).

    Parameters
    ----------
    settings : AugmentSettings, optional
        Probabilities and ranges (defaults documented there).

    Examples
    --------
    >>> from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset
    >>> data = CMEDDataset("ds", augment=PatternAugmenter())  # doctest: +SKIP
    """

    def __init__(self, settings=None):
        self.settings = settings or AugmentSettings()

    def __call__(self, entry, rng):
        s = self.settings
        if rng.random() < s.p_lab:
            return lab_augment(entry, rng, s)
        return paper_augment(entry["pattern"], rng, s.noise_std, s.max_shift)
