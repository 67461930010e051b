"""Space groups ranked by the systematic absences of extracted intensities.

For a cell in a group's standard setting, a reflection ``h`` is absent
when an operation ``(R, t)`` of the group leaves it fixed (``h R = h``)
with ``h . t`` not an integer.  A Pawley decomposition gives the
intensity of every group of overlapping reflections, so each space group
is scored, as in the probabilistic approach of Markvardsen, David, Johnson
and Shankland (Acta Cryst. A57, 47 (2001)), by the log-likelihood ratio of
its absent groups' intensities being zero (a half-normal of their
standard uncertainty) rather than drawn from Wilson's acentric
distribution (an exponential of the mean intensity at that resolution),
plus the log of how common the group is among inorganic crystals.
"""

import math

import numpy as np

from diffpy.crystalnet.abinitio.wyckoff import general_operations

__all__ = ["absent_reflections", "rank_by_absences"]


def absent_reflections(number, hkl):
    """``(N,)`` bool: reflections systematically absent in a space group.

    Parameters
    ----------
    number : int
        Space group number (pyxtal's standard setting).
    hkl : array_like
        ``(N, 3)`` integer indices.
    """
    rot, tr = general_operations(number)
    hkl = np.asarray(hkl, dtype=float)
    images = np.einsum("ni,mij->nmj", hkl, rot)
    fixed = np.all(np.abs(images - hkl[:, None, :]) < 1e-6, axis=2)
    phase = hkl @ tr.T
    off = np.abs(phase - np.rint(phase)) > 1e-6
    return np.any(fixed & off, axis=1)


def _wilson_means(s2, intensity, size, shells=8):
    """Mean intensity per member in resolution shells, at each group."""
    edges = np.quantile(s2, np.linspace(0, 1, shells + 1))
    shell = np.clip(
        np.searchsorted(edges, s2, side="right") - 1, 0, shells - 1
    )
    per = intensity / size
    mean = np.array(
        [
            per[shell == k].mean() if np.any(shell == k) else np.nan
            for k in range(shells)
        ]
    )
    mean = np.where(np.isfinite(mean), mean, np.nanmean(per))
    return np.maximum(mean[shell] * size, 1e-12)


def rank_by_absences(extracted, numbers, prior=None):
    """Rank space groups by the absences of extracted intensities.

    Parameters
    ----------
    extracted : ExtractedIntensities
        A decomposition on the cell (``P``: every reflection listed).
    numbers : sequence of int
        Space groups to rank (their standard settings on the cell).
    prior : dict, optional
        Number -> count among known structures (default the project's
        inorganic statistics; one is added to every count).

    Returns
    -------
    list of tuple
        ``(number, score, probability)`` best first; ``score`` is the
        log-likelihood ratio plus the log prior, ``probability`` the
        posterior normalised over ``numbers``.
    """
    if prior is None:
        from diffpy.crystalnet.index.space_group_prior import COUNTS

        prior = COUNTS
    group = np.asarray(extracted.group)
    n_groups = extracted.n_groups
    observed = np.ones(n_groups, dtype=bool)
    np.logical_and.at(observed, group, np.asarray(extracted.observed))
    size = np.bincount(group, minlength=n_groups).astype(float)
    d = np.asarray(extracted.d, dtype=float)
    s2 = np.bincount(group, 0.25 / d**2, minlength=n_groups) / size
    inten = np.clip(np.asarray(extracted.group_intensity, float), 0, None)
    sigma = np.asarray(extracted.group_sigma, float)
    mean = _wilson_means(s2[observed], inten[observed], size[observed])
    mu = np.full(n_groups, np.nan)
    mu[observed] = mean
    floor = 0.02 * mu
    sig = np.where(np.isfinite(sigma), np.maximum(sigma, floor), floor)
    # log N+(I; 0, sig) - log Exp(I; mu), per group (half-normal, I >= 0)
    llr = (
        math.log(2.0)
        - 0.5 * math.log(2 * math.pi)
        - np.log(sig)
        - 0.5 * (inten / sig) ** 2
        + np.log(mu)
        + inten / mu
    )
    llr = np.clip(llr, -50.0, 50.0)
    total = sum(prior.values()) + 230
    scored = []
    for number in numbers:
        absent = absent_reflections(number, extracted.hkl)
        all_absent = np.ones(n_groups, dtype=bool)
        np.logical_and.at(all_absent, group, absent)
        use = all_absent & observed
        score = float(llr[use].sum()) + math.log(
            (prior.get(int(number), 0) + 1) / total
        )
        scored.append((int(number), score))
    top = max(s for _, s in scored)
    norm = sum(math.exp(s - top) for _, s in scored)
    out = [(n, s, math.exp(s - top) / norm) for n, s in scored]
    out.sort(key=lambda t: -t[1])
    return out
