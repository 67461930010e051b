"""Placing prototypes on a cell, and the quick screen.

A prototype is put on a measured cell of its own crystal family (cubic: a;
tetragonal and hexagonal axes, which trigonal prototypes use: a and c;
orthorhombic: a, b, c in each order) and keeps its own atomic coordinates;
a rhombohedral cell is converted to hexagonal axes.

A quick screen ranks the candidates: sticks
(:func:`~diffpy.crystalnet.physics.simulator.stick_table`, B = 0.5 angstrom^2)
broadened with Caglioti widths fitted to the peaks that
:func:`~diffpy.crystalnet.index.peak_search.find_peaks` measures (with its
K-alpha2 ratio), against the SNIP-background-subtracted profile, scored by
the weighted profile R factor at the best scale.  Candidates with the same
computed profile are kept once, and the best screened ones, one per
structure (pymatgen ``StructureMatcher``), are chosen for the fit.
"""

import itertools
import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.isotypes.decorations import _merged
from diffpy.crystalnet.physics.lattice import VOLUME_PER_ATOM

__all__ = []


def _lattice_family(lattice, tol=1e-3, angle_tol=0.05):
    """Family and the lattice in the family's conventional setting."""
    from pymatgen.core import Lattice

    a, b, c = lattice.abc
    al, be, ga = lattice.angles

    def same(x, y):
        return abs(x - y) <= tol * max(x, y)

    def right(x, value=90.0):
        return abs(x - value) <= angle_tol

    if right(al) and right(be) and right(ga):
        if same(a, b) and same(b, c):
            m = (a + b + c) / 3.0
            return "cubic", Lattice.cubic(m)
        for x, y, z in ((a, b, c), (b, c, a), (a, c, b)):
            if same(x, y):
                m = (x + y) / 2.0
                return "tetragonal", Lattice.tetragonal(m, z)
        return "orthorhombic", Lattice.orthorhombic(a, b, c)
    if right(al) and right(ga) and not right(be):
        # b unique, as the indexing and spglib's standard settings give it
        return "monoclinic", Lattice.monoclinic(a, b, c, max(be, 180.0 - be))
    if right(al) and right(be) and (right(ga, 120.0) or right(ga, 60.0)):
        if same(a, b):
            return "hexagonal", Lattice.hexagonal((a + b) / 2.0, c)
    if (
        same(a, b)
        and same(b, c)
        and abs(al - be) <= angle_tol
        and abs(be - ga) <= angle_tol
    ):
        # rhombohedral axes -> hexagonal setting
        alpha = math.radians((al + be + ga) / 3.0)
        m = (a + b + c) / 3.0
        a_hex = 2.0 * m * math.sin(alpha / 2.0)
        c_hex = m * math.sqrt(3.0 + 6.0 * math.cos(alpha))
        return "hexagonal", Lattice.hexagonal(a_hex, c_hex)
    return None, lattice


def _cells(prototype, family, lattice):
    """Lattices of the prototype's conventional cell for a measured one."""
    from pymatgen.core import Lattice

    if prototype.family != family:
        return []
    a, b, c = lattice.abc
    if family == "cubic":
        return [Lattice.cubic(a)]
    if family == "hexagonal":
        return [Lattice.hexagonal(a, c)]
    if family == "tetragonal":
        return [Lattice.tetragonal(a, c)]
    if family == "monoclinic":
        # the prototype's a and c may be the measured c and a (the same
        # lattice, another cell choice of the centring)
        beta = lattice.angles[1]
        out = [Lattice.monoclinic(a, b, c, beta)]
        if abs(a - c) > 1e-4 * max(a, c):
            out.append(Lattice.monoclinic(c, b, a, beta))
        return out
    if family == "orthorhombic":
        seen, out = set(), []
        for p in itertools.permutations((a, b, c)):
            key = tuple(round(v, 4) for v in p)
            if key not in seen:
                seen.add(key)
                out.append(Lattice.orthorhombic(*p))
        return out
    return []


def _as_lattice(value, index):
    """A given lattice: pymatgen Lattice, IndexingSolution or text."""
    from pymatgen.core import Lattice

    where = f"lattices[{index}]"
    if isinstance(value, Lattice):
        return value, dict(origin="given"), 0.0
    if hasattr(value, "lattice") and hasattr(value, "centring"):
        info = dict(
            origin="indexed",
            centring=value.centring,
            m20=round(float(getattr(value, "m20", 0.0)), 2),
        )
        return value.lattice, info, float(getattr(value, "zero_shift", 0.0))
    if isinstance(value, str):
        from diffpy.crystalnet.index.lattice_text import parse_lattice

        return parse_lattice(value, where), dict(origin="given"), 0.0
    raise CrystalNetInputError(
        "expected a pymatgen Lattice, an IndexingSolution or text like "
        f"'a=5.43', not {type(value).__name__}",
        where,
    )


class _Screen:
    """Quick profile comparison of candidate sticks with the data."""

    def __init__(self, pattern, peaks, b_iso=0.5, cutoff=6.0):
        from diffpy.crystalnet.physics.background import snip_background
        from diffpy.crystalnet.physics.profiles import Profile
        from diffpy.crystalnet.physics.wavelengths import kalpha_doublet
        from diffpy.crystalnet.refine.kernel import profile_weights

        x = np.asarray(pattern.two_theta, dtype=float)
        y = np.asarray(pattern.intensity, dtype=float)
        ok = np.isfinite(x)
        self.x, y = x[ok], y[ok]
        q = np.asarray(pattern.q, dtype=float)[ok]
        self.y = y - snip_background(q, y)
        # the profile fit's weights
        sigma, _ = profile_weights(pattern, y)
        if sigma.shape != y.shape:
            sigma = sigma[ok]
        self.w = 1.0 / sigma**2
        self.norm = float(np.sum(self.w * self.y * self.y))
        lam = pattern.wavelength
        ratio = getattr(peaks, "kalpha2_ratio", None)
        doublet = kalpha_doublet(lam)
        self.kalpha2 = bool(doublet is not None and ratio)
        self.wavelength = doublet[0] if self.kalpha2 else lam
        self.ratio = ratio
        u, w = self._widths(peaks)
        self.profile = Profile(
            u=u,
            w=w,
            eta=0.5,
            kalpha2=self.kalpha2,
            kalpha2_ratio=ratio if self.kalpha2 else None,
            cutoff=cutoff,
        )
        self.b_iso = b_iso
        self.hi = min(180.0, float(self.x[-1]) + 3.0)

    def _widths(self, peaks):
        """Caglioti u and w (v = 0) from the measured peak widths."""
        fwhm = np.asarray(peaks.fwhm, dtype=float)
        tth = peaks.two_theta
        if tth is None:
            tth = np.full(fwhm.shape, np.nan)
        tth = np.asarray(tth, dtype=float)
        if getattr(peaks, "xtype", "tth") == "q":
            # FWHM in Q -> degrees: d(2theta) = dQ lambda / (2 pi cos theta)
            theta = np.radians(tth / 2.0)
            fwhm = np.degrees(
                fwhm * peaks.wavelength / (2 * np.pi * np.cos(theta))
            )
        good = np.isfinite(fwhm) & np.isfinite(tth) & (fwhm > 0)
        if good.sum() == 0:
            return 0.0, 0.01
        f2 = fwhm[good] ** 2
        t2 = np.tan(np.radians(tth[good] / 2.0)) ** 2
        w = float(np.median(f2))
        u = 0.0
        if good.sum() >= 4 and np.ptp(t2) > 0:
            slope, intercept = np.polyfit(t2, f2, 1)
            if slope > 0 and intercept > 0:
                u, w = float(slope), float(intercept)
        return u, max(w, 1e-5)

    def sticks(self, structure):
        """Reflections of a structure (stick_table, no families)."""
        from diffpy.crystalnet.physics.simulator import stick_table

        return stick_table(
            structure,
            self.wavelength,
            (0.0, self.hi),
            b_factors=self.b_iso,
            families=False,
        )

    def profile_of(self, table, zero_shift=0.0, strain=0.0):
        """Screening profile of a stick table, cell scaled by 1 + strain."""
        from dataclasses import replace

        from diffpy.crystalnet.physics.broadening import broaden_sticks
        from diffpy.crystalnet.physics.profiles import lorentz_polarization

        if strain:
            sin_t = self.wavelength / (2.0 * table["d"] * (1.0 + strain))
            ok = sin_t < 1.0
            theta = np.arcsin(sin_t[ok])
            two_theta = np.degrees(2.0 * theta)
            intensity = table["f2"][ok] * lorentz_polarization(theta)
        else:
            two_theta, intensity = table["two_theta"], table["intensity"]
        profile = replace(self.profile, zero_shift=zero_shift)
        return broaden_sticks(
            two_theta, intensity, self.x, profile, self.wavelength
        )

    def best_strain(
        self, table, zero_shift, centre=0.0, limit=0.006, step=0.001
    ):
        """Isotropic strain (coarse then fine grid) that screens best."""
        best = (self.score(self.profile_of(table, zero_shift, centre)), centre)
        for grid_step, span in ((step, limit), (step / 4.0, step)):
            middle = best[1]
            n = int(round(span / grid_step))
            for k in range(-n, n + 1):
                if k == 0:
                    continue
                strain = middle + k * grid_step
                calc = self.profile_of(table, zero_shift, strain)
                best = min(best, (self.score(calc), strain))
        return best[1], best[0]

    def scale_trials(self, table, peaks, a_range, n_obs=3, n_calc=6):
        """Cell scale factors that put strong reflections on strong peaks.

        Each of the ``n_obs`` strongest observed peaks is taken as each of
        the ``n_calc`` strongest computed reflections; the scales are
        ranked by the product of the fractions of observed peak height and
        of computed intensity that match within the peak width.
        """
        q_obs = np.asarray(peaks.q, dtype=float)
        height = np.asarray(peaks.height, dtype=float)
        d = np.asarray(table["d"], dtype=float)
        q_calc = 2.0 * np.pi / d
        inten = np.asarray(table["intensity"], dtype=float)
        q_max = float(np.max(q_obs)) * 1.02
        if q_obs.size == 0 or inten.size == 0:
            return []
        strong_obs = q_obs[np.argsort(height)[::-1][:n_obs]]
        order = np.argsort(inten)[::-1]
        scales = set()
        lo, hi = a_range
        for q0 in q_calc[order[:n_calc]]:
            for q in strong_obs:
                scale = float(q0 / q)  # a / a_reference
                if lo <= scale <= hi:
                    scales.add(round(scale, 5))
        if not scales:
            return []
        fwhm = np.asarray(getattr(peaks, "fwhm", []), dtype=float)
        tol = 0.004
        if getattr(peaks, "xtype", "tth") == "q" and fwhm.size:
            tol = max(tol, 0.6 * float(np.median(fwhm)))
        elif fwhm.size and peaks.two_theta is not None:
            theta = np.radians(np.asarray(peaks.two_theta) / 2.0)
            dq = (
                np.radians(fwhm)
                * 2.0
                * np.pi
                * np.cos(theta)
                / peaks.wavelength
            )
            tol = max(tol, 0.6 * float(np.median(dq)))
        ranked = []
        for scale in sorted(scales):
            q = q_calc / scale
            keep = (q <= q_max) & (inten > 0.01 * inten.max())
            if not keep.any():
                continue
            qk, ik = q[keep], inten[keep]
            near_obs = np.min(np.abs(q_obs[:, None] - qk[None, :]), axis=1)
            near_calc = np.min(np.abs(qk[:, None] - q_obs[None, :]), axis=1)
            f_obs = height[near_obs < tol].sum() / height.sum()
            f_calc = ik[near_calc < tol].sum() / ik.sum()
            ranked.append((f_obs * f_calc, scale))
        ranked.sort(reverse=True)
        out = []
        for _, scale in ranked:
            # least squares on the matched lines: mean of q_calc / q_obs
            q = q_calc / scale
            keep = (q <= q_max) & (inten > 0.01 * inten.max())
            qk, ik = q_calc[keep], inten[keep]
            nearest = np.argmin(
                np.abs(q_obs[None, :] - qk[:, None] / scale), axis=1
            )
            ok = np.abs(q_obs[nearest] - qk / scale) < tol
            if ok.any():
                ratios = qk[ok] / q_obs[nearest[ok]]
                scale = float(np.average(ratios, weights=ik[ok]))
            out.append(scale)
        return out

    def score(self, calc):
        """R factor at the best non-negative scale."""
        cc = float(np.sum(self.w * calc * calc))
        if not cc > 0 or not self.norm > 0:
            return 1.0
        scale = max(0.0, float(np.sum(self.w * self.y * calc)) / cc)
        resid = self.y - scale * calc
        return math.sqrt(float(np.sum(self.w * resid * resid)) / self.norm)


def _placed_trials(given, matching, maps):
    """Trials of the prototypes on given cells of their crystal family.

    Returns a list of ``(prototype, cell, mapping, info, zero)`` tuples,
    cells holding 5-60 angstrom^3 per atom only.
    """
    trials = []  # (prototype, cell, mapping, info, zero)
    for lattice, info, zero in given:
        family, conventional = _lattice_family(lattice)
        if family is None:
            continue
        for p in matching:
            for cell in _cells(p, family, conventional):
                per_atom = cell.volume / p.n_atoms
                if not VOLUME_PER_ATOM[0] <= per_atom <= VOLUME_PER_ATOM[1]:
                    continue
                for mapping in maps[p.label]:
                    trials.append((p, cell, mapping, info, zero))
    return trials


def _unique_profiles(screened):
    """Screened candidates less those with an equal computed profile.

    A repeated profile's prototype label is added to the kept one's
    ``also`` list (item 7).
    """
    # one candidate per computed pattern (symmetry-equivalent or repeated
    # prototypes on the same cell give the same one)
    unique = []
    for item in screened:
        calc = item[6]
        norm = float(np.linalg.norm(calc))
        duplicate = None
        for kept in unique:
            if abs(kept[0] - item[0]) > 1e-6:
                continue
            other = kept[6]
            denom = norm * float(np.linalg.norm(other))
            if denom > 0 and float(calc @ other) / denom > 1 - 1e-9:
                duplicate = kept
                break
        if duplicate is not None:
            label = item[1].label
            if label != duplicate[1].label and label not in duplicate[7]:
                duplicate[7].append(label)
        else:
            unique.append(item)
    return unique


def _chosen(unique, fit, top, n_fit, screen_margin):
    """The screened candidates to fit (or, without ``fit``, to return).

    At most ``n_fit`` (``top`` without ``fit``), best first, only those
    within ``screen_margin`` of the best screen when fitting, one per
    structure; a prototype with one element per slot replaces a merged
    decoration giving the same structure.
    """
    chosen = []
    if unique:
        best = unique[0][0]
        limit = best + screen_margin * (1.0 - best) if fit else np.inf
        wanted = n_fit if fit else top
        used = set()
        for index, item in enumerate(unique):
            if index in used:
                continue
            if len(chosen) >= wanted or item[0] > limit:
                break
            if _merged(item[1], item[3]):
                # the same structure from a prototype with one element per
                # slot (corundum rather than ilmenite with Al on both)
                plain = _plain_twin(unique, index, used)
                if plain is not None:
                    used.add(plain)
                    twin = unique[plain]
                    twin[7][:0] = [item[1].label] + item[7]
                    item = twin
            same = _same_structure(item[2], [c[2] for c in chosen])
            if same is None:
                chosen.append(item)
            else:
                also = chosen[same][7]
                for label in [item[1].label] + item[7]:
                    if label != chosen[same][1].label and label not in also:
                        also.append(label)
    return chosen


def _same_structure(structure, others, volume_tol=0.05):
    """Index of the first of ``others`` that is the same structure."""
    if not others:
        return None
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    per_atom = structure.volume / len(structure)
    for i, other in enumerate(others):
        ratio = other.volume / len(other) / per_atom
        if abs(ratio - 1.0) > volume_tol:
            continue
        if matcher.fit(structure, other):
            return i
    return None


def _plain_twin(unique, index, used, window=0.05):
    """Index of an unmerged candidate that is the same structure."""
    item = unique[index]
    for other in range(index + 1, len(unique)):
        candidate = unique[other]
        if candidate[0] - item[0] > window:
            break
        if other in used or _merged(candidate[1], candidate[3]):
            continue
        if _same_structure(candidate[2], [item[2]]) is not None:
            return other
    return None
