"""The calculated profile of a Rietveld refinement and its Jacobian.

:class:`_Model` maps a parameter vector (cell, coordinates of the Wyckoff
representatives, ``B`` per element, zero shift, profile, scales,
background) onto the calculated profile: structure factors per
symmetry-independent reflection, Thompson-Cox-Hastings pseudo-Voigt peaks
of the K-alpha lines, a Chebyshev background.  The Jacobian is analytic
for the coordinates, the displacements and the linear parameters, forward
differences on fixed peak windows for the cell and profile parameters.
"""

import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.profile_bounds import PROFILE_BOUNDS
from diffpy.crystalnet.refine.kernel import caglioti_minimum, tan_theta_range
from diffpy.crystalnet.refine.restraints import _Restraints
from diffpy.crystalnet.refine.symmetry import (
    ANGLE_TOLERANCE,
    LATTICE_TOLERANCE,
    MAX_SHIFT,
    _cell_from,
    _lattice_mode,
    _metric,
    _unique_reflections,
)

__all__ = []

_DEG = math.pi / 180.0

#: profile parameters: start, lower, upper
_PROFILE = {
    k: PROFILE_BOUNDS[k]
    for k in ("u", "v", "w", "inverse_size", "microstrain")
}
_ZERO = PROFILE_BOUNDS["zero_shift"]
#: B (angstrom^2) start and bounds
_B = PROFILE_BOUNDS["b_iso"]
#: forward-difference steps of the parameters without analytic derivatives
_STEP = {
    "lattice": 1e-6,  # relative
    "angle": 1e-5,
    "zero_shift": 1e-5,
    "u": 1e-6,
    "v": 1e-6,
    "w": 1e-7,
    "inverse_size": 1e-6,
    "microstrain": 1e-7,
}


class _Model:
    """Calculated profile and its Jacobian for a parameter vector."""

    def __init__(
        self, sym, x, y, sigma, lines, basis, start, refine, restraints, where
    ):
        from diffpy.crystalnet.physics.scattering import scattering_params

        self.sym = sym
        self.x = x
        self.y = y
        self.inv_sigma = 1.0 / sigma
        self.lines = lines
        self.basis = basis
        self.cutoff = 25.0
        self.n_eval = 0  # profile evaluations, finite differences included
        self.n_jac = 0
        conv = sym.structure
        cell0 = list(conv.lattice.abc) + list(conv.lattice.angles)
        names = ("a", "b", "c", "alpha", "beta", "gamma")
        self.cell0 = dict(zip(names, cell0))
        self.cell_mode = _lattice_mode(sym.system, cell0[3:])
        strain = float((start or {}).get("strain", 0.0) or 0.0)
        for k in ("a", "b", "c"):
            self.cell0[k] *= 1.0 + strain
        # scatterers: (kept atom, species)
        params = scattering_params()
        elements, sc_atom, sc_el, sc_occ, sc_z, sc_coeff = (
            [],
            [],
            [],
            [],
            [],
            [],
        )
        for j in sym.kept:
            for sp, occ in conv[int(j)].species.items():
                symbol = getattr(sp, "symbol", str(sp))
                if symbol not in params or getattr(sp, "Z", 0) < 1:
                    raise CrystalNetInputError(
                        f"site {j}: no X-ray scattering factor for "
                        f"{symbol!r}",
                        where,
                    )
                if symbol not in elements:
                    elements.append(symbol)
                sc_atom.append(int(j))
                sc_el.append(elements.index(symbol))
                sc_occ.append(float(occ))
                sc_z.append(float(sp.Z))
                sc_coeff.append(params[symbol])
        self.elements = elements
        self.sc_atom = np.array(sc_atom)
        self.sc_el = np.array(sc_el)
        self.sc_occ = np.array(sc_occ)
        el_first = [sc_el.index(e) for e in range(len(elements))]
        self.el_z = np.array(sc_z)[el_first]
        self.el_coeff = np.array(sc_coeff)[el_first]
        # orbit of every atom, and the rows of each orbit's atoms among
        # the scatterers
        self.orbit_sc = []
        for orbit in sym.orbits:
            rows = np.flatnonzero(np.isin(self.sc_atom, orbit["members"]))
            pos = [
                int(np.flatnonzero(orbit["members"] == a)[0])
                for a in self.sc_atom[rows]
            ]
            self.orbit_sc.append((rows, np.array(pos, dtype=int)))
        # reflections
        lam_min = min(lines)
        self.hkl, self.mult = _unique_reflections(
            sym,
            [self.cell0[k] for k in names],
            float(x[-1]) + 5.0,
            lam_min,
        )
        if len(self.hkl) == 0:
            raise CrystalNetInputError(
                "no reflection in the measured range", where
            )
        self._layout(start or {}, refine)
        self.restraints = _Restraints(sym, self, where) if restraints else None

    # -- parameter vector ------------------------------------------------

    def _layout(self, start, refine):
        """Names, start values, bounds and groups of all parameters."""
        names, values, lower, upper, kinds = [], [], [], [], []

        def add(name, value, lo, hi, kind, free):
            names.append(name)
            values.append(float(np.clip(value, lo, hi)))
            lower.append(lo)
            upper.append(hi)
            kinds.append((kind, free))

        self._add_structural(add, start, refine)
        self._add_profile(add, start, refine)
        self.names = names
        self.values = np.array(values)
        self.lower = np.array(lower)
        self.upper = np.array(upper)
        self.kinds = kinds
        self.index = {n: i for i, n in enumerate(names)}
        self.linear = np.array(
            [isinstance(k, tuple) and k[0] == "linear" for k, _ in kinds]
        )
        self.free = np.array([f for _, f in kinds])

    def _add_structural(self, add, start, refine):
        """Cell, coordinate and ``B`` parameters, in this order."""
        for k in self.cell_mode:
            v = self.cell0[k]
            if k in ("a", "b", "c"):
                lo, hi = (
                    v * (1 - LATTICE_TOLERANCE),
                    v * (1 + LATTICE_TOLERANCE),
                )
            else:
                lo, hi = v - ANGLE_TOLERANCE, v + ANGLE_TOLERANCE
            add(k, v, lo, hi, "lattice", "lattice" in refine)
        matrix = _metric(self._cell({}))[1]
        for i, orbit in enumerate(self.sym.orbits):
            d = orbit["directions"]
            for m, axis in enumerate(orbit["pivots"]):
                length = float(np.linalg.norm(d[:, m] @ matrix))
                half = MAX_SHIFT / max(length, 1e-9)
                x0 = orbit["x0"][axis]
                add(
                    f"{orbit['label']}.{'xyz'[axis]}",
                    x0,
                    x0 - half,
                    x0 + half,
                    ("coord", i, m),
                    "coordinates" in refine,
                )
        b_start = start.get("b_iso", _B[0])
        for e in self.elements:
            b = b_start.get(e, _B[0]) if isinstance(b_start, dict) else b_start
            add(
                f"b_iso.{e}",
                _B[0] if b is None else b,
                _B[1],
                _B[2],
                ("b", self.elements.index(e)),
                "b_iso" in refine,
            )

    def _add_profile(self, add, start, refine):
        """Zero shift, profile, scales and background, in this order."""
        zero = start.get("zero_shift", _ZERO[0])
        add(
            "zero_shift",
            zero,
            _ZERO[1],
            _ZERO[2],
            "zero",
            "zero_shift" in refine,
        )
        prof = {k: v[0] for k, v in _PROFILE.items()}
        size = start.get("crystallite_size", "missing")
        if size != "missing":
            prof["inverse_size"] = 0.0 if not size else 1.0 / float(size)
        for k in _PROFILE:
            if k in start and start[k] is not None:
                prof[k] = float(start[k])
        for k, (_, lo, hi) in _PROFILE.items():
            add(k, prof[k], lo, hi, "profile", "profile" in refine)
        n_lines = len(self.lines)
        for i in range(n_lines):
            add(
                ("scale", "kalpha2_scale")[i],
                1.0,
                0.0,
                np.inf,
                ("linear", i),
                "scale" in refine,
            )
        bkg = list(start.get("background") or [])
        for i in range(self.basis.shape[1]):
            add(
                f"background.{i}",
                bkg[i] if i < len(bkg) else 0.0,
                -np.inf,
                np.inf,
                ("linear", n_lines + i),
                "background" in refine,
            )

    def _cell(self, p):
        vals = {k: p[k] for k in self.cell_mode if k in p}
        fixed = {k: v for k, v in self.cell0.items()}
        return _cell_from(vals, self.cell_mode, fixed)

    def unpack(self, vector):
        """Named values, cell, per-orbit shifts, B per element, linear."""
        p = dict(zip(self.names, vector))
        cell = self._cell(p)
        shifts = []
        for orbit in self.sym.orbits:
            piv = orbit["pivots"]
            vals = [
                p[f"{orbit['label']}.{'xyz'[axis]}"] - orbit["x0"][axis]
                for axis in piv
            ]
            shifts.append(np.array(vals))
        b = np.array([p[f"b_iso.{e}"] for e in self.elements])
        lin = np.asarray(vector)[self.linear]
        return p, cell, shifts, b, lin

    # -- physics -----------------------------------------------------------

    def structure_factors(self, cell, shifts, b, derivatives=False):
        """``m |F|^2`` per reflection (and derivatives), 1/d^2."""
        gram, _ = _metric(cell)
        gstar = np.linalg.inv(gram)
        h = self.hkl
        g2 = np.einsum("mi,ij,mj->m", h, gstar, h)
        s2 = g2 / 4.0
        gauss = np.exp(-s2[:, None, None] * self.el_coeff[None, :, :, 1])
        gauss = (gauss * self.el_coeff[None, :, :, 0]).sum(-1)
        f_el = self.el_z[None, :] - 41.78214 * s2[:, None] * gauss
        f_el = f_el * np.exp(-s2[:, None] * b[None, :])
        frac = self.sym.positions(shifts)[self.sc_atom]
        weight = f_el[:, self.sc_el] * self.sc_occ[None, :]
        e = weight * np.exp((2j * np.pi) * (h @ frac.T))
        f = e.sum(1)
        nc2 = float(self.sym.n_centring**2)
        f2 = self.mult * nc2 * (f.real**2 + f.imag**2)
        if not derivatives:
            return f2, g2, None
        cols = []
        fc = np.conj(f)
        for i, orbit in enumerate(self.sym.orbits):
            rows, pos = self.orbit_sc[i]
            d = orbit["directions"]
            if d.shape[1] == 0:
                continue
            # h . (R_j D) for the orbit's scatterers: (M, n, k)
            rd = np.einsum("nij,jk->nik", orbit["rotations"][pos], d)
            hd = np.einsum("mi,nik->mnk", h, rd)
            df = (2j * np.pi) * np.einsum("mn,mnk->mk", e[:, rows], hd)
            cols.append(2.0 * (fc[:, None] * df).real)
        for el in range(len(self.elements)):
            df = -s2 * e[:, self.sc_el == el].sum(1)
            cols.append(2.0 * (fc * df).real[:, None])
        deriv = np.concatenate(cols, axis=1) * (self.mult * nc2)[:, None]
        return f2, g2, deriv

    def peaks(self, p, f2, g2, windows=None):
        """Per line: the sparse peak-shape matrix and the intensities."""
        from scipy.sparse import csr_matrix

        from diffpy.crystalnet.physics.broadening import peak_windows
        from diffpy.crystalnet.physics.profiles import (
            lorentz_polarization,
            peak_widths,
            pseudo_voigt,
        )

        size = 1.0 / p["inverse_size"] if p["inverse_size"] > 1e-9 else None
        out = []
        g = np.sqrt(g2)
        for i, lam in enumerate(self.lines):
            sin_t = lam * g / 2.0
            ok = np.flatnonzero(sin_t < 1.0 - 1e-9)
            theta = np.arcsin(sin_t[ok])
            lp = lorentz_polarization(theta)
            centre = 2.0 * theta / _DEG + p["zero_shift"]
            fwhm, eta = peak_widths(
                centre,
                lam,
                max(p["u"], 0.0),
                p["v"],
                max(p["w"], 0.0),
                crystallite_size=size,
                microstrain=max(p["microstrain"], 0.0),
            )
            if windows is None:
                stick, point = peak_windows(self.x, centre, fwhm, self.cutoff)
            else:
                stick, point = windows[i]
            values = pseudo_voigt(
                self.x[point] - centre[stick], fwhm[stick], eta[stick]
            )
            shape = csr_matrix(
                (values, (point, ok[stick])), shape=(len(self.x), len(g))
            )
            lp_all = np.zeros(len(g))
            lp_all[ok] = lp
            out.append((shape, lp_all, (stick, point)))
        return out

    def width_ok(self, p):
        lo, hi = tan_theta_range(self.x)
        return caglioti_minimum(p, lo, hi) > 1e-5

    def design(self, vector, windows=None, derivatives=False):
        """Columns of the linear model (line profiles, background)."""
        self.n_eval += 1
        p, cell, shifts, b, lin = self.unpack(vector)
        f2, g2, df2 = self.structure_factors(cell, shifts, b, derivatives)
        lines = self.peaks(p, f2, g2, windows)
        cols = [shape @ (f2 * lp) for shape, lp, _ in lines]
        design = np.column_stack(cols + [self.basis])
        extra = dict(lines=lines, df2=df2, lin=lin)
        return design, extra

    def calc(self, vector, windows=None):
        design, extra = self.design(vector, windows)
        return design @ extra["lin"], design, extra

    def residual(self, vector):
        p = dict(zip(self.names, vector))
        if not self.width_ok(p):
            return None
        calc, _, _ = self.calc(vector)
        res = (self.y - calc) * self.inv_sigma
        if self.restraints is not None:
            res = np.concatenate([res, self.restraints.residual(vector)])
        return res

    def jacobian(self, vector, free):
        """Jacobian of the weighted residuals over the free parameters."""
        self.n_jac += 1
        design, extra = self.design(vector, derivatives=True)
        calc = design @ extra["lin"]
        windows = [w for _, _, w in extra["lines"]]
        lin = extra["lin"]
        n = len(self.y)
        jac = np.zeros((n, len(free)))
        # analytic: coordinates and B through the intensities
        intensity_cols = {}
        col = 0
        for i, orbit in enumerate(self.sym.orbits):
            for m in range(len(orbit["pivots"])):
                name = f"{orbit['label']}.{'xyz'[orbit['pivots'][m]]}"
                intensity_cols[name] = col
                col += 1
        for e in self.elements:
            intensity_cols[f"b_iso.{e}"] = col
            col += 1
        wanted = [
            (k, intensity_cols[self.names[j]])
            for k, j in enumerate(free)
            if self.names[j] in intensity_cols
        ]
        if wanted:
            df2 = extra["df2"][:, [c for _, c in wanted]]
            total = 0.0
            for li, (shape, lp, _) in enumerate(extra["lines"]):
                total = total + lin[li] * (shape @ (df2 * lp[:, None]))
            for (k, _), column in zip(wanted, np.asarray(total).T):
                jac[:, k] = -column * self.inv_sigma
        # linear parameters
        for k, j in enumerate(free):
            kind = self.kinds[j][0]
            if isinstance(kind, tuple) and kind[0] == "linear":
                jac[:, k] = -design[:, kind[1]] * self.inv_sigma
        # forward differences: cell, zero shift, profile
        for k, j in enumerate(free):
            kind = self.kinds[j][0]
            if kind not in ("lattice", "zero", "profile"):
                continue
            name = self.names[j]
            if kind == "lattice":
                if name in ("a", "b", "c"):
                    step = _STEP["lattice"] * abs(vector[j])
                else:
                    step = _STEP["angle"]
            else:
                step = _STEP[name]
            if vector[j] + step > self.upper[j]:
                step = -step
            moved = np.array(vector, dtype=float)
            moved[j] += step
            c2, _, _ = self.calc(moved, windows)
            jac[:, k] = -(c2 - calc) / step * self.inv_sigma
        if self.restraints is not None:
            jac = np.vstack([jac, self.restraints.jacobian(vector, free)])
        return jac


# End of file
