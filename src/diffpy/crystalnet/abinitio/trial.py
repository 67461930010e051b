"""Trial structures of many replicas at once, and their cost.

A batch holds ``R`` replicas, each a Wyckoff configuration of one space
group (:func:`~diffpy.crystalnet.abinitio.wyckoff.configurations`) with a
generator ``v`` per site.  Arrays are padded to the largest number of
sites and atoms in the batch (padding atoms scatter nothing and bump into
nothing), so the structure factors of all replicas are one numpy
expression: the cost of a move of every replica costs one call.

The cost is the weighted R of the observed intensities
(:meth:`~diffpy.crystalnet.abinitio.target.IntensityTarget.agreement`)
plus ``bump_weight`` times an anti-bump penalty: for every pair of atoms
closer than ``CONTACT_FACTOR`` times the sum of their covalent radii,
``(1 - d / d_min)^2``, averaged per atom of the cell.  Atoms of a site
with free parameters that drift onto a special position collide with
their own images, so the penalty also merges them back apart (the role of
FOX's dynamical occupancy correction, here with the composition exact).
"""

import numpy as np
import torch

from diffpy.crystalnet.abinitio.wyckoff import wyckoff_sites

__all__ = ["CONTACT_FACTOR", "TrialBatch", "contact_table"]

#: pairs closer than this fraction of the summed covalent radii bump
CONTACT_FACTOR = 0.75
#: anions of the same kind closer than this (angstrom) bump
ANION_CONTACT = 2.2
_ANIONS = {"N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I"}


def contact_table(elements):
    """``(E+1, E+1)`` shortest allowed distances; the last row is padding."""
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
    from pymatgen.core import Element

    radii = []
    for el in elements:
        r = CovalentRadius.radius.get(el)
        if r is None:
            r = Element(el).atomic_radius or 1.5
        radii.append(float(r))
    r = np.array(radii)
    n = len(elements)
    table = np.zeros((n + 1, n + 1))
    table[:n, :n] = CONTACT_FACTOR * (r[:, None] + r[None, :])
    for i, el in enumerate(elements):
        if el in _ANIONS:
            table[i, i] = max(table[i, i], ANION_CONTACT)
    return table


class TrialBatch:
    """Replicas of Wyckoff configurations, their generators and cost.

    Parameters
    ----------
    number : int
        Space group number (standard setting of the lattice).
    configs : list of tuple
        One configuration per replica (``(element, site_index)`` pairs).
    elements : list of str
        The elements, in the order of ``ftable`` rows.
    ftable : numpy.ndarray
        ``(E, U)`` form factors times the displacement term at the
        target's reflection classes.
    target : IntensityTarget
    matrix : numpy.ndarray
        Lattice matrix (rows a, b, c; angstrom).
    bump_weight : float
        Weight of the anti-bump penalty.
    """

    # long: builds the padded per-atom tables of every replica
    def __init__(
        self, number, configs, elements, ftable, target, matrix, bump_weight
    ):
        sites = wyckoff_sites(number)
        self.sites = sites
        self.configs = list(configs)
        self.elements = list(elements)
        el_index = {e: i for i, e in enumerate(elements)}
        pad = len(elements)
        n_rep = len(configs)
        n_site = max(len(c) for c in configs)
        n_atom = max(sum(sites[i].multiplicity for _, i in c) for c in configs)
        self.rot = np.zeros((n_rep, n_atom, 3, 3))
        self.tr = np.zeros((n_rep, n_atom, 3))
        self.site_of_atom = np.zeros((n_rep, n_atom), dtype=int)
        self.atom_el = np.full((n_rep, n_atom), pad, dtype=int)
        self.site_el = np.full((n_rep, n_site), pad, dtype=int)
        self.free = np.zeros((n_rep, n_site, 3), dtype=bool)
        self.mult = np.zeros((n_rep, n_site))
        self.rep_atom = np.zeros((n_rep, n_site), dtype=int)
        self.site_index = np.full((n_rep, n_site), -1, dtype=int)
        for r, config in enumerate(configs):
            a = 0
            for s, (el, i) in enumerate(config):
                site = sites[i]
                m = site.multiplicity
                self.rot[r, a : a + m] = site.rotations
                self.tr[r, a : a + m] = site.translations
                self.site_of_atom[r, a : a + m] = s
                self.atom_el[r, a : a + m] = el_index[el]
                self.site_el[r, s] = el_index[el]
                self.free[r, s] = site.free
                self.mult[r, s] = m
                self.rep_atom[r, s] = a
                self.site_index[r, s] = i
                a += m
        self.n_atoms = self.mult.sum(1)
        self.ftable = np.vstack([ftable, np.zeros((1, ftable.shape[1]))])
        self.contact = contact_table(elements)
        self.target = target
        self.matrix = np.asarray(matrix, dtype=float)
        self.bump_weight = float(bump_weight)
        self.v = np.zeros((n_rep, n_site, 3))
        # structure factors in float32 torch: sin/cos and the per-element
        # sums (a batched matmul) are several times faster than numpy's
        onehot = np.zeros((n_rep, len(elements) + 1, n_atom), np.float32)
        onehot[
            np.arange(n_rep)[:, None], self.atom_el, np.arange(n_atom)[None]
        ] = 1.0
        self._onehot = torch.from_numpy(onehot)
        self._f = torch.from_numpy(self.ftable.astype(np.float32))
        self._h = torch.from_numpy(target.hkl.T.astype(np.float32))
        self._counts = torch.from_numpy(target.counts.T.astype(np.float32))

    @property
    def n_replicas(self):
        return len(self.configs)

    def positions(self, v):
        """``(R, N, 3)`` fractional coordinates of every atom."""
        gen = np.take_along_axis(v, self.site_of_atom[..., None], axis=1)
        return np.einsum("rnij,rnj->rni", self.rot, gen) + self.tr

    def intensities(self, x):
        """``(R, G)`` calculated group intensities of positions ``x``."""
        # h.x reduced to [0, 1) first: sin and cos of small arguments take
        # the fast path (several times faster than of |arguments| > 100)
        turns = torch.from_numpy((x % 1.0).astype(np.float32)) @ self._h
        phase = (turns - torch.floor(turns)) * (2 * np.pi)
        re = (torch.bmm(self._onehot, torch.cos(phase)) * self._f).sum(1)
        im = (torch.bmm(self._onehot, torch.sin(phase)) * self._f).sum(1)
        return ((re * re + im * im) @ self._counts).numpy().astype(float)

    def bumps(self, x):
        """``(R,)`` anti-bump penalty per atom of the cell."""
        reps = np.take_along_axis(x, self.rep_atom[..., None], axis=1)
        diff = reps[:, :, None, :] - x[:, None, :, :]
        diff -= np.rint(diff)
        dist = np.linalg.norm(diff @ self.matrix, axis=-1)
        limit = self.contact[self.site_el[:, :, None], self.atom_el[:, None]]
        n_rep, n_site = self.rep_atom.shape
        rows = np.arange(n_rep)[:, None]
        cols = np.arange(n_site)[None, :]
        own = np.zeros_like(dist, dtype=bool)
        own[rows, cols, self.rep_atom] = True
        with np.errstate(divide="ignore", invalid="ignore"):
            over = np.where(
                (limit > 0) & ~own, np.clip(1 - dist / limit, 0, None), 0.0
            )
        per_site = (over * over).sum(-1) * self.mult
        return per_site.sum(1) / np.maximum(self.n_atoms, 1)

    def cost(self, v):
        """``(cost, R_I, bump)`` arrays of shape ``(R,)`` for generators v."""
        x = self.positions(v)
        r_i = self.target.agreement(self.intensities(x))
        bump = self.bumps(x)
        return r_i + self.bump_weight * bump, r_i, bump

    def random_generators(self, rng, rows=None):
        """Uniform random generators (fixed components 0)."""
        rows = np.arange(self.n_replicas) if rows is None else rows
        v = rng.random((len(rows),) + self.v.shape[1:])
        return np.where(self.free[rows], v, 0.0)

    def structure(self, r, v, lattice):
        """The replica ``r`` with generators ``v`` as a pymatgen Structure."""
        from pymatgen.core import Structure

        gen = v[self.site_of_atom[r]]
        x = np.einsum("nij,nj->ni", self.rot[r], gen) + self.tr[r]
        x %= 1.0
        species = [
            self.elements[e] for e in self.atom_el[r] if e < len(self.elements)
        ]
        return Structure(lattice, species, x[: len(species)])
