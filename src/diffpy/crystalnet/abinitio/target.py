"""The observed intensities a direct-space search fits, reduced by symmetry.

A Pawley decomposition lists every reflection (one of each Friedel pair)
with the intensity of its overlap group.  A trial structure built from a
space group's orbits has the same ``|F|`` on symmetry-equivalent
reflections, so :class:`IntensityTarget` keeps one representative per
equivalence class and a ``(groups, classes)`` count matrix: the
calculated intensity of a group is ``counts @ |F_class|^2``.
"""

from dataclasses import dataclass

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["B_VALUES", "IntensityTarget", "intensity_target"]

#: overall displacements (angstrom^2) the agreement chooses from
B_VALUES = (0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0)


@dataclass
class IntensityTarget:
    """Observed group intensities and the reflection classes behind them.

    Attributes
    ----------
    hkl : numpy.ndarray
        ``(U, 3)`` one representative per class of equivalent reflections.
    s2 : numpy.ndarray
        ``(U,)`` ``(sin(theta)/lambda)^2 = 1/(4 d^2)``.
    counts : numpy.ndarray
        ``(G, U)`` members of each group in each class.
    observed : numpy.ndarray
        ``(G,)`` observed group intensities (arbitrary scale).
    weight : numpy.ndarray
        ``(G,)`` least-squares weights.
    d_min : float
        Resolution used (angstrom).
    group_s2 : numpy.ndarray
        ``(G,)`` mean ``s^2`` of each group.
    """

    hkl: np.ndarray
    s2: np.ndarray
    counts: np.ndarray
    observed: np.ndarray
    weight: np.ndarray
    d_min: float
    group_s2: np.ndarray

    def agreement(self, calc, b_values=B_VALUES):
        """Weighted R on intensities at the best scale and overall B.

        Parameters
        ----------
        calc : numpy.ndarray
            ``(..., G)`` calculated group intensities without thermal
            motion.
        b_values : sequence of float, optional
            Overall isotropic displacements tried (angstrom^2); the best
            one is used (the data's fall-off is not known in advance).

        Returns
        -------
        numpy.ndarray
            ``min_B sqrt(sum w (Io - k Ic e^{-2 B s^2})^2 / sum w Io^2)``
            per row.
        """
        w, io = self.weight, self.observed
        damp = np.exp(-2 * np.outer(b_values, self.group_s2))
        c = calc[..., None, :] * damp
        num = (c * (w * io)).sum(-1)
        den = (c * c * w).sum(-1)
        k = num / np.maximum(den, 1e-30)
        resid = io - k[..., None] * c
        r2 = (w * resid * resid).sum(-1) / (w * io * io).sum()
        return np.sqrt(r2.min(-1))


def _class_codes(hkl, rotations):
    """An integer per reflection, equal for symmetry equivalents."""
    images = np.einsum("ni,mij->nmj", hkl, rotations)
    images = np.rint(np.concatenate([images, -images], axis=1)).astype(int)
    span = int(np.abs(hkl).max()) + 1
    base = 2 * span + 1
    codes = (
        (images[..., 0] + span) * base + (images[..., 1] + span)
    ) * base + (images[..., 2] + span)
    return codes.max(axis=1)


def intensity_target(extracted, rotations, d_min=None):
    """Build the :class:`IntensityTarget` of an extraction.

    Parameters
    ----------
    extracted : ExtractedIntensities
        The Pawley decomposition on the space group's setting of the cell.
    rotations : numpy.ndarray
        ``(M, 3, 3)`` rotations of the space group (fractional, acting on
        column vectors), e.g. from
        :func:`~diffpy.crystalnet.abinitio.wyckoff.general_operations`.
    d_min : float, optional
        Use groups whose reflections all have ``d >= d_min`` (default:
        every observed group, down to 0.9 angstrom).

    Returns
    -------
    IntensityTarget
    """
    hkl = np.asarray(extracted.hkl, dtype=float)
    group = np.asarray(extracted.group)
    d = np.asarray(extracted.d, dtype=float)
    d_cut = 0.9 if d_min is None else float(d_min)
    n_groups = extracted.n_groups
    worst_d = np.full(n_groups, np.inf)
    np.minimum.at(worst_d, group, d)
    all_obs = np.ones(n_groups, dtype=bool)
    np.logical_and.at(all_obs, group, np.asarray(extracted.observed))
    sigma = np.asarray(extracted.group_sigma, dtype=float)
    io = np.asarray(extracted.group_intensity, dtype=float)
    keep_g = (worst_d >= d_cut) & all_obs & np.isfinite(sigma)
    if keep_g.sum() < 3:
        raise CrystalNetInputError(
            f"only {int(keep_g.sum())} observed reflection groups with "
            f"d >= {d_cut:.2f} A: too few for a structure search",
            "pattern",
        )
    keep_r = keep_g[group]
    codes = _class_codes(hkl[keep_r], np.asarray(rotations, dtype=float))
    uniq, first, inverse = np.unique(
        codes, return_index=True, return_inverse=True
    )
    new_group = np.cumsum(keep_g) - 1
    g_idx = new_group[group[keep_r]]
    counts = np.zeros((int(keep_g.sum()), len(uniq)))
    np.add.at(counts, (g_idx, inverse), 1.0)
    rep = hkl[keep_r][first]
    s2 = 0.25 / d[keep_r][first] ** 2
    obs = io[keep_g]
    sig = sigma[keep_g]
    floor = 1e-3 * obs.max()
    weight = 1.0 / (sig**2 + (0.02 * obs) ** 2 + floor**2)
    return IntensityTarget(
        hkl=rep,
        s2=s2,
        counts=counts,
        observed=obs,
        weight=weight,
        d_min=d_cut,
        group_s2=(counts @ s2) / counts.sum(1),
    )
