"""Space-group symmetry of a Rietveld refinement.

What the symmetry leaves free in a structure and how to rebuild it exactly
symmetric from the free parameters: the allowed displacements of each
Wyckoff orbit (the null space of ``R - I`` over its site-symmetry
operations), the fixing of the floating origin of polar groups, the free
cell parameters of each crystal system, and the symmetry-independent
allowed reflections (Laue-group orbits, systematic absences dropped).
Also the bounds of the structural parameters (cell and coordinates).
"""

import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "ANGLE_TOLERANCE",
    "LATTICE_TOLERANCE",
    "MAX_SHIFT",
    "free_coordinate_count",
]

#: relative bound on cell edges, bound on angles (degrees)
LATTICE_TOLERANCE = 0.03
ANGLE_TOLERANCE = 3.0
#: largest shift of an atom from its start (angstrom)
MAX_SHIFT = 0.5


def _rref(matrix, tol=1e-8):
    """Reduced row echelon form of a small matrix (pivot columns too)."""
    m = np.array(matrix, dtype=float)
    rows, cols = m.shape
    pivots = []
    r = 0
    for c in range(cols):
        if r >= rows:
            break
        p = r + int(np.argmax(np.abs(m[r:, c])))
        if abs(m[p, c]) < tol:
            continue
        m[[r, p]] = m[[p, r]]
        m[r] /= m[r, c]
        for i in range(rows):
            if i != r:
                m[i] -= m[i, c] * m[r]
        pivots.append(c)
        r += 1
    m[np.abs(m) < tol] = 0.0
    return m[: len(pivots)], pivots


def _free_directions(rotations):
    """Allowed displacements of a site: null space of all ``R - I``.

    Returns a (3, k) matrix whose column m moves pivot coordinate m by one
    and the others as the site symmetry requires (``x, x, x``: [1, 1, 1]).
    """
    stack = np.concatenate([r - np.eye(3) for r in rotations])
    _, s, vt = np.linalg.svd(stack)
    rank = int(np.sum(s > 1e-6))
    null = vt[rank:]  # (k, 3)
    if len(null) == 0:
        return np.zeros((3, 0)), []
    basis, pivots = _rref(null)
    return basis.T, pivots


def _wrap(d):
    return d - np.round(d)


def _lattice_mode(system, angles):
    """Free cell parameters of a crystal system (standard setting)."""
    if system == "cubic":
        return ["a"]
    if system in ("tetragonal", "hexagonal", "trigonal"):
        return ["a", "c"]
    if system == "orthorhombic":
        return ["a", "b", "c"]
    if system == "monoclinic":
        oblique = int(np.argmax(np.abs(np.asarray(angles) - 90.0)))
        return ["a", "b", "c", ("alpha", "beta", "gamma")[oblique]]
    return ["a", "b", "c", "alpha", "beta", "gamma"]


_TIES = {"b": "a", "c": "a"}


def _cell_from(values, mode, fixed):
    """Six cell parameters from the free ones (ties by crystal system)."""
    cell = dict(fixed)
    cell.update(values)
    if "b" not in mode:
        cell["b"] = cell["a"]
    if "c" not in mode:
        cell["c"] = cell["a"]
    return [cell[k] for k in ("a", "b", "c", "alpha", "beta", "gamma")]


def _metric(cell):
    """Direct metric tensor and Cartesian matrix of a cell."""
    from pymatgen.core import Lattice

    matrix = Lattice.from_parameters(*cell).matrix
    return matrix @ matrix.T, matrix


def _representatives(frac, equiv):
    """One atom per orbit (``equiv``: the orbit of every atom)."""
    # representative: the member nearest the origin (x, x, x rather
    # than -x + 1/2, -x, x + 1/2)
    wrapped = np.round(frac % 1.0, 6) % 1.0
    reps = []
    for r in dict.fromkeys(equiv.tolist()):
        members = np.flatnonzero(equiv == r)
        key = [(wrapped[m].sum(), tuple(wrapped[m])) for m in members]
        reps.append(int(members[min(range(len(key)), key=key.__getitem__)]))
    return reps


class _Symmetry:
    """Orbits, free directions and generators of a symmetrised cell."""

    def __init__(self, structure, symprec, where):
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        try:
            sga = SpacegroupAnalyzer(structure, symprec=symprec)
            conv = sga.get_refined_structure()
            sga = SpacegroupAnalyzer(conv, symprec=symprec)
            data = sga.get_symmetry_dataset()
        except Exception as exc:  # spglib failures are input problems
            raise CrystalNetInputError(
                f"no space group found at symprec={symprec:g}: {exc}", where
            )
        if data is None:
            raise CrystalNetInputError(
                f"no space group found at symprec={symprec:g}", where
            )
        self.structure = conv
        self.symbol = str(data.international)
        self.number = int(data.number)
        self.system = sga.get_crystal_system()
        rot = np.asarray(data.rotations, dtype=float)
        tra = _wrap(np.asarray(data.translations, dtype=float)) % 1.0
        self.rotations, self.translations = rot, tra
        tol = max(1e-4, min(symprec, 0.05))
        self.orbits = self._find_orbits(data, tol, where)
        self._fix_origin(rot)
        self._find_centring(tol, where)
        self.operations = [_xyz(r, t) for r, t in zip(rot, tra)]  # for the CIF

    def _find_orbits(self, data, tol, where):
        """Per Wyckoff orbit: representative, free directions, generators
        of the members, label, species and Wyckoff position."""
        conv, rot, tra = self.structure, self.rotations, self.translations
        frac = conv.frac_coords
        matrix = conv.lattice.matrix
        equiv = np.asarray(data.equivalent_atoms)
        wyckoffs = list(data.wyckoffs)
        counts = {}
        orbits = []
        for r in _representatives(frac, equiv):
            x0 = frac[r]
            moved = np.einsum("nij,j->ni", rot, x0) + tra
            off = _wrap(moved - x0) @ matrix
            site_ops = np.linalg.norm(off, axis=1) < tol
            directions, pivots = _free_directions(rot[site_ops])
            members = np.flatnonzero(equiv == equiv[r])
            gens = []
            for j in members:
                dist = np.linalg.norm(_wrap(moved - frac[j]) @ matrix, axis=1)
                g = int(np.argmin(dist))
                if dist[g] > tol:
                    raise CrystalNetInputError(
                        f"site {j} is not generated from site {r} by the "
                        "space-group operations",
                        where,
                    )
                shift = np.round(frac[j] - moved[g])
                gens.append((rot[g], tra[g] + shift))
            species = {
                getattr(sp, "symbol", str(sp)): float(occ)
                for sp, occ in conv[r].species.items()
            }
            main = max(species, key=species.get)
            counts[main] = counts.get(main, 0) + 1
            orbits.append(
                dict(
                    rep=r,
                    x0=x0.copy(),
                    directions=directions,
                    pivots=pivots,
                    members=members,
                    rotations=np.array([g[0] for g in gens]),
                    translations=np.array([g[1] for g in gens]),
                    label=f"{main}{counts[main]}",
                    species=species,
                    wyckoff=f"{len(members)}{wyckoffs[r]}",
                )
            )
        return orbits

    def _find_centring(self, tol, where):
        """Centring translations and one atom per centring coset."""
        conv, rot, tra = self.structure, self.rotations, self.translations
        frac = conv.frac_coords
        matrix = conv.lattice.matrix
        # centring translations (R = I, t != 0)
        ident = np.all(np.abs(rot - np.eye(3)) < 1e-8, axis=(1, 2))
        cent = tra[ident]
        cent = cent[np.linalg.norm(_wrap(cent), axis=1) > 1e-6]
        self.centring = cent
        # one atom per centring coset for the structure factors
        keep = []
        for j in range(len(conv)):
            dup = False
            for k in keep:
                diff = frac[j] - frac[k]
                if any(
                    np.linalg.norm(_wrap(diff - c) @ matrix) < tol
                    for c in cent
                ):
                    dup = True
                    break
            if not dup:
                keep.append(j)
        self.kept = np.array(keep)
        self.n_centring = len(cent) + 1
        if len(conv) != len(keep) * self.n_centring:
            raise CrystalNetInputError(
                "the centring translations do not map the cell onto itself",
                where,
            )

    def _fix_origin(self, rotations):
        """Fix the floating origin of polar space groups.

        Along a direction that every rotation leaves unchanged (z of
        P6_3mc, y of P2_1, all of P1) the origin is free: one orbit's
        coordinate along it is held fixed.
        """
        polar, _ = _free_directions(rotations)
        for u in polar.T:
            u = u / np.linalg.norm(u)
            for orbit in self.orbits:
                d = orbit["directions"]
                if d.shape[1] == 0:
                    continue
                coef = np.linalg.lstsq(d, u, rcond=None)[0]
                if np.linalg.norm(d @ coef - u) > 1e-6:
                    continue
                # the span of d without u, as pivot columns again
                q, _ = np.linalg.qr(np.column_stack([u, d]))
                rest = q[:, 1 : d.shape[1]]
                if rest.shape[1] == 0:
                    orbit["directions"], orbit["pivots"] = np.zeros((3, 0)), []
                else:
                    basis, pivots = _rref(rest.T)
                    orbit["directions"], orbit["pivots"] = basis.T, pivots
                break

    def positions(self, shifts):
        """Fractional coordinates of all atoms, orbit shifts applied."""
        frac = np.empty((len(self.structure), 3))
        for orbit, p in zip(self.orbits, shifts):
            x = orbit["x0"] + orbit["directions"] @ p
            frac[orbit["members"]] = (
                np.einsum("nij,j->ni", orbit["rotations"], x)
                + orbit["translations"]
            )
        return frac


def free_coordinate_count(structure, symprec=0.01):
    """Number of coordinates a refinement in the space group would free."""
    sym = _Symmetry(structure, symprec, "structure")
    return int(sum(o["directions"].shape[1] for o in sym.orbits))


def _xyz(rotation, translation):
    from pymatgen.core.operations import SymmOp

    op = SymmOp.from_rotation_and_translation(
        np.round(rotation), np.round(translation * 24) / 24
    )
    return op.as_xyz_str()


# --------------------------------------------------------------------------
# reflections


def _unique_reflections(sym, cell, two_theta_max, wavelength):
    """Symmetry-independent allowed reflections up to a 2-theta.

    Returns the representative hkl and its multiplicity over the full
    sphere of reflections, for a cell that may grow by the lattice
    tolerance.
    """
    from diffpy.crystalnet.physics.scattering import enumerate_reflections

    _, matrix = _metric(cell)
    s = math.sin(math.radians(min(two_theta_max, 179.9) / 2.0))
    max_r = 2.0 * s / wavelength * (1.0 + LATTICE_TOLERANCE + 0.01)
    hkl, _ = enumerate_reflections(matrix, 1e-6, max_r)
    if len(hkl) == 0:
        return np.zeros((0, 3)), np.zeros(0)
    rot = np.unique(np.round(sym.rotations).astype(int), axis=0)
    base = 2 * int(np.abs(hkl).max()) + 1
    off = base // 2

    def code(h):
        return ((h[:, 0] + off) * base + h[:, 1] + off) * base + h[:, 2] + off

    key = np.full(len(hkl), -1, dtype=np.int64)
    for r in rot:
        moved = hkl @ r
        key = np.maximum(key, np.maximum(code(moved), code(-moved)))
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    reps = hkl[first]
    mult = 2.0 * counts
    # systematic absences: h R = h and h.t not an integer
    absent = np.zeros(len(reps), dtype=bool)
    for r, t in zip(np.round(sym.rotations).astype(int), sym.translations):
        same = np.all(reps @ r == reps, axis=1)
        phase = np.exp(2j * np.pi * (reps @ t))
        absent |= same & (np.abs(phase - 1.0) > 1e-6)
    return reps[~absent].astype(float), mult[~absent]


# End of file
