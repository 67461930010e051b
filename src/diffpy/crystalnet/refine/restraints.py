"""Soft anti-bump restraints of a Rietveld refinement.

One residual per pair of atoms closer than :data:`CONTACT_FACTOR` times
the sum of their covalent radii, ``(d_min - d) / RESTRAINT_SIGMA``, with
its finite-difference Jacobian over the coordinates and the cell.
"""

import numpy as np

from diffpy.crystalnet.refine.symmetry import MAX_SHIFT, _metric

__all__ = ["CONTACT_FACTOR", "RESTRAINT_SIGMA"]

#: pairs closer than this fraction of their covalent radii are restrained
CONTACT_FACTOR = 0.8
#: the restraint's standard uncertainty (angstrom)
RESTRAINT_SIGMA = 0.01


class _Restraints:
    """Soft anti-bump restraints on pairs closer than the contact limit."""

    def __init__(self, sym, model, where):
        from pymatgen.analysis.molecule_structure_comparator import (
            CovalentRadius,
        )
        from pymatgen.core import Element

        self.model = model
        self.sym = sym
        conv = sym.structure
        radii = []
        for site in conv:
            r = 0.0
            for sp in site.species:
                symbol = getattr(sp, "symbol", str(sp))
                rad = CovalentRadius.radius.get(symbol)
                if rad is None:
                    rad = Element(symbol).atomic_radius or 1.5
                r = max(r, float(rad))
            radii.append(r)
        radii = np.array(radii)
        frac = conv.frac_coords
        matrix = conv.lattice.matrix
        reach = CONTACT_FACTOR * 2 * radii.max() + 2 * MAX_SHIFT + 0.5
        # lattice images within reach
        inv_len = np.linalg.norm(np.linalg.inv(matrix), axis=0)
        nmax = np.ceil(reach * inv_len * 1.05).astype(int) + 1
        grids = np.meshgrid(*[np.arange(-n, n + 1) for n in nmax])
        images = np.stack([g.ravel() for g in grids], axis=1)
        pairs = []
        for orbit in sym.orbits:
            i = orbit["rep"]
            diff = frac[None, :, :] + images[:, None, :] - frac[i]
            dist = np.linalg.norm(diff @ matrix, axis=2)
            limit = CONTACT_FACTOR * (radii[i] + radii)[None, :]
            ok = (dist < limit + 2 * MAX_SHIFT + 0.3) & (dist > 1e-6)
            for n, j in zip(*np.nonzero(ok)):
                pairs.append((i, j, images[n], limit[0, j]))
        self.i = np.array([p[0] for p in pairs], dtype=int)
        self.j = np.array([p[1] for p in pairs], dtype=int)
        self.n = np.array([p[2] for p in pairs], dtype=float).reshape(-1, 3)
        self.limit = np.array([p[3] for p in pairs])
        #: scaled by sqrt(reduced chi2) at the start (set by the driver)
        self.weight = 1.0

    def distances(self, vector):
        _, cell, shifts, _, _ = self.model.unpack(vector)
        _, matrix = _metric(cell)
        frac = self.sym.positions(shifts)
        diff = frac[self.j] + self.n - frac[self.i]
        return np.linalg.norm(diff @ matrix, axis=1)

    def residual(self, vector):
        if len(self.i) == 0:
            return np.zeros(0)
        d = self.distances(vector)
        return np.maximum(self.limit - d, 0.0) * (
            self.weight / RESTRAINT_SIGMA
        )

    def jacobian(self, vector, free):
        base = self.residual(vector)
        jac = np.zeros((len(base), len(free)))
        if len(base) == 0:
            return jac
        for k, j in enumerate(free):
            kind = self.model.kinds[j][0]
            is_coord = isinstance(kind, tuple) and kind[0] == "coord"
            if not (is_coord or kind == "lattice"):
                continue
            step = 1e-7 if is_coord else 1e-6 * max(1.0, abs(vector[j]))
            moved = np.array(vector, dtype=float)
            moved[j] += step
            jac[:, k] = (self.residual(moved) - base) / step
        return jac

    def contacts(self, vector):
        """(i, j, distance, limit) of pairs closer than the limit."""
        if len(self.i) == 0:
            return []
        d = self.distances(vector)
        bad = np.flatnonzero(d < self.limit - 1e-6)
        return [
            (int(self.i[k]), int(self.j[k]), float(d[k]), float(self.limit[k]))
            for k in bad
        ]


# End of file
