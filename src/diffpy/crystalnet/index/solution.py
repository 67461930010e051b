"""An indexed cell and its figures of merit.

:class:`IndexingSolution` is what
:func:`~diffpy.crystalnet.index.indexing.index_pattern` returns: the
refined cell, its zero shift, the indexed lines and the figures of merit,
de Wolff's M20 and Smith and Snyder's F_N, computed by :func:`_figures`
(see :mod:`diffpy.crystalnet.index.indexing` for their definitions).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.physics.lattice import CENTRING_POINTS

__all__ = ["BRAVAIS_LETTER", "IndexingSolution"]


#: first letter of the Bravais symbol of each crystal system
BRAVAIS_LETTER = {
    "cubic": "c",
    "hexagonal": "h",
    "trigonal": "h",
    "tetragonal": "t",
    "orthorhombic": "o",
    "monoclinic": "m",
    "triclinic": "a",
}


@dataclass(eq=False)
class IndexingSolution:
    """An indexed cell.

    Attributes
    ----------
    system : str
        Crystal system of the lattice: ``"cubic"``, ``"trigonal"``,
        ``"hexagonal"`` (trigonal and hexagonal P lattices are the same;
        the label follows the systems asked for), ``"tetragonal"``,
        ``"orthorhombic"``, ``"monoclinic"`` or ``"triclinic"``.
    centring : {"P", "I", "F", "R", "C"}
        Lattice centring; R is the rhombohedral lattice in the obverse
        hexagonal setting (-h + k + l = 3n), C the one-face centring of
        the standard orthorhombic and monoclinic cells.
    lattice : pymatgen.core.Lattice
        Conventional cell refined by least squares (spglib's standard
        setting for the lower-symmetry systems).
    zero_shift : float
        Refined 2-theta zero shift in degrees (observed = true + shift); 0
        when the pattern has no wavelength.
    m20 : float
        de Wolff figure of merit over the first min(20, indexed) lines.
    f_n : float or None
        Smith-Snyder F_N over the same lines (None without wavelength).
    indexed : list of (tuple, float, float)
        ``(hkl, q_obs, q_calc)`` of each indexed line, q_obs corrected for
        the zero shift (1/angstrom).
    unindexed : int
        Lines among those used that no reflection explains.
    n_lines : int
        Lines used.
    wavelength : float or None
        Wavelength of the positions (angstrom).
    details : dict
        Mean discrepancies, number of calculated lines, N of M_N and F_N;
        ``doubled_axes`` (see :meth:`doubled_axes`) for the solutions
        ``index_pattern`` returns.
    """

    system: str
    centring: str
    lattice: object
    zero_shift: float
    m20: float
    f_n: float
    indexed: list
    unindexed: int
    n_lines: int
    wavelength: float = None
    details: dict = field(default_factory=dict)

    @property
    def a(self):
        """Conventional a in angstrom."""
        return float(self.lattice.a)

    @property
    def c(self):
        """Conventional c in angstrom."""
        return float(self.lattice.c)

    @property
    def quality(self):
        """Ranking figure: M20 times 0.7 per unindexed line."""
        return self.m20 * 0.7**self.unindexed

    @property
    def symbol(self):
        """Bravais lattice symbol (cP, cI, cF, hR, hP, tP, tI, oP, oC, oI,
        oF, mP, mC, aP)."""
        return BRAVAIS_LETTER.get(self.system, "a") + self.centring

    def primitive_lattice(self):
        """The primitive cell exactly as :func:`cmed_cell` gives it.

        A dummy structure with one atom on every lattice point of the
        conventional cell is standardised with
        :func:`~diffpy.crystalnet.physics.cells.cmed_cell`, so the cell vectors
        have the setting and orientation that ``cmed_cell`` produces for
        real crystals with this lattice.

        Returns
        -------
        pymatgen.core.Lattice
        """
        from pymatgen.core import Structure

        from diffpy.crystalnet.physics.cells import cmed_cell

        coords = CENTRING_POINTS[self.centring]
        dummy = Structure(self.lattice, ["Cu"] * len(coords), coords)
        return cmed_cell(dummy).lattice

    def doubled_axes(self, max_lines=2):
        """Axes that only a few lines need doubled.

        For each axis of the conventional cell, the observed lines that no
        reflection with an even index along it explains (within three
        times the mean discrepancy, at least 0.002 1/angstrom): those lines
        alone double that axis.  When there are a few (1 to ``max_lines``)
        they may be weak superstructure lines, or impurity lines that the
        larger cell indexes by chance: the cell with that axis halved
        indexes every other line.

        Returns
        -------
        dict
            ``{"a": n, ...}`` for the axes doubled by 1 to ``max_lines``
            lines.
        """
        from diffpy.crystalnet.index.metric import lattice_lines

        if not self.indexed:
            return {}
        q_obs = np.array([q for _, q, _ in self.indexed])
        dq = np.mean([abs(qo - qc) for _, qo, qc in self.indexed])
        tol = max(3 * float(dq), 2e-3)
        s_max = float((q_obs.max() + tol) / (2 * math.pi)) ** 2
        s_calc, hkl = lattice_lines(self.lattice, self.centring, s_max)
        q_calc = 2 * math.pi * np.sqrt(s_calc)
        out = {}
        for axis, name in enumerate("abc"):
            even = q_calc[hkl[:, axis] % 2 == 0]
            if even.size == 0:
                continue
            near = np.abs(q_obs[:, None] - even[None, :]) <= tol
            n_odd = int(np.count_nonzero(~near.any(axis=1)))
            if 0 < n_odd <= max_lines:
                out[name] = n_odd
        return out

    def describe(self):
        """One paragraph describing the solution.

        Returns
        -------
        str
        """
        a, b, c, alpha, beta, gamma = self.lattice.parameters
        if self.system == "cubic":
            cell = f"a = {self.a:.5f} A"
        elif self.system in ("hexagonal", "trigonal"):
            cell = f"a = {self.a:.5f} A, c = {self.c:.5f} A (hexagonal axes)"
        elif self.system == "tetragonal":
            cell = f"a = {a:.5f} A, c = {c:.5f} A"
        elif self.system == "orthorhombic":
            cell = f"a = {a:.5f} A, b = {b:.5f} A, c = {c:.5f} A"
        elif self.system == "monoclinic":
            cell = (
                f"a = {a:.5f} A, b = {b:.5f} A, c = {c:.5f} A, "
                f"beta = {beta:.3f} deg"
            )
        else:
            cell = (
                f"a = {a:.5f} A, b = {b:.5f} A, c = {c:.5f} A, "
                f"alpha = {alpha:.3f}, beta = {beta:.3f}, "
                f"gamma = {gamma:.3f} deg"
            )
        fn = ""
        if self.f_n is not None:
            fn = (
                f", F{self.details['n']} = {self.f_n:.1f} "
                f"({self.details['mean_d2theta']:.4f}, "
                f"{self.details['n_calc']})"
            )
        zero = ""
        if self.wavelength is not None:
            zero = f", zero shift {self.zero_shift:+.4f} deg"
        doubled = ""
        flags = self.details.get("doubled_axes") or {}
        if flags:
            doubled = "; " + ", ".join(
                f"{axis} doubled by {n} line{'s' if n > 1 else ''} only"
                for axis, n in flags.items()
            )
        return (
            f"{self.system} {self.centring} ({self.symbol}): {cell}, "
            f"V = {self.lattice.volume:.2f} A^3{zero}; "
            f"M{self.details['n']} = {self.m20:.1f}{fn}; "
            f"{len(self.indexed)} of {self.n_lines} lines indexed, "
            f"{self.unindexed} unindexed{doubled}"
        )

    def table(self):
        """Text table of the indexed lines.

        Returns
        -------
        str
        """
        rows = ["  h  k  l     Q_obs    Q_calc     d_obs    diff(Q)"]
        for hkl, qo, qc in self.indexed:
            rows.append(
                f"{hkl[0]:3d}{hkl[1]:3d}{hkl[2]:3d} {qo:9.5f} {qc:9.5f} "
                f"{2 * math.pi / qo:9.5f} {qo - qc:+.5f}"
            )
        return "\n".join(rows)

    def __repr__(self):
        return f"IndexingSolution({self.describe()})"


# --------------------------------------------------------------------------
# figures of merit


def _distinct(s, rel=1e-9):
    if s.size == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(s) > rel * s[1:]))


def _figures(params, zero, obs, j, ok, s_calc, hkl, n_fom):
    s_obs = obs.corrected_s(zero)
    ind = np.flatnonzero(ok)
    if ind.size < 2:
        return None
    first = ind[: min(n_fom, ind.size)]
    s_n = s_obs[first[-1]]
    ds = np.abs(s_obs[first] - s_calc[j[first]])
    # floor: 0.0005 deg in 2-theta, or 1e-5 relative in Q
    if obs.wavelength is not None:
        th = np.radians(obs.tth[first] - zero) / 2.0
        floor = (
            8 * np.sin(th) * np.cos(th) / obs.wavelength**2 * 0.5e-3 * math.pi
        ) / 360.0
    else:
        floor = 2e-5 * s_obs[first]
    eps = float(np.mean(np.maximum(ds, floor)))
    n_calc = _distinct(s_calc[s_calc <= s_n * (1 + 1e-9)])
    m20 = s_n / (2.0 * eps * max(n_calc, 1))
    f_n = None
    mean_dt = None
    if obs.wavelength is not None:
        lam = obs.wavelength
        tc = 2 * np.degrees(
            np.arcsin(np.clip(lam * np.sqrt(s_calc[j[first]]) / 2, 0, 1))
        )
        dt = np.abs(obs.tth[first] - zero - tc)
        mean_dt = float(np.mean(np.maximum(dt, 0.5e-3)))
        f_n = first.size / (mean_dt * max(n_calc, 1))
    q_corr = 2 * math.pi * np.sqrt(s_obs)
    indexed = [
        (
            tuple(int(v) for v in hkl[j[i]]),
            float(q_corr[i]),
            float(2 * math.pi * math.sqrt(s_calc[j[i]])),
        )
        for i in ind
    ]
    return {
        "params": params,
        "zero": zero,
        "m20": float(m20),
        "f_n": None if f_n is None else float(f_n),
        "indexed": indexed,
        "unindexed": int(obs.q.size - ind.size),
        "details": {
            "n": int(first.size),
            "mean_ds": eps,
            "mean_d2theta": mean_dt,
            "n_calc": int(n_calc),
        },
    }


# End of file
