"""The outcome of a PDF refinement, :class:`PDFFitResult`."""

from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.physics.pdf import rw_factor
from diffpy.crystalnet.refine.optimiser import _covariance

__all__ = ["PDFFitResult"]


@dataclass
class PDFFitResult:
    """A refined structure against a G(r), with its agreement and esds.

    Attributes
    ----------
    structure : pymatgen.core.Structure
        The refined structure in the standard conventional cell, each site
        with its ``Uiso`` property (angstrom^2).
    rw : float
        Weighted agreement factor over the fit range (PDFfit2's Rw).
    chi2 : float
        Reduced chi-square (with unit weights when the file has no dG).
    parameters, esd : dict
        Refined values and estimated standard uncertainties by name
        (``scale``, ``a``..``gamma``, ``<label>.x``, ``uiso.<label>``,
        ``delta1``, ``delta2``, ``qdamp``, ``qbroad``, ``spdiameter``).
    sites : list of dict
        Per Wyckoff orbit: label, species, Wyckoff position, fractional
        coordinates of the representative and its Uiso.
    space_group : str
        International symbol of the refined structure.
    radiation, qmax : str, float
        The probe and the Qmax used for the termination ripples.
    r, g_obs, g_calc, sigma : numpy.ndarray
        The fit range and the curves (``sigma`` None without dG).
    refined : list of str
        The names of the refined parameters.
    info : dict
        ``nfev``, ``message``, ``success`` and ``seconds``.
    """

    structure: object
    rw: float
    chi2: float
    parameters: dict
    esd: dict
    sites: list
    space_group: str
    radiation: str
    qmax: float
    r: np.ndarray
    g_obs: np.ndarray
    g_calc: np.ndarray
    sigma: np.ndarray = None
    refined: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def n_parameters(self):
        """Number of refined parameters."""
        return len(self.refined)

    @property
    def g_diff(self):
        """Observed minus calculated G(r)."""
        return self.g_obs - self.g_calc

    @property
    def fit_range(self):
        """(rmin, rmax) of the fit in angstrom."""
        return float(self.r[0]), float(self.r[-1])

    # long: collects every number of the result in one place
    @classmethod
    def build(cls, model, vector, free, result, r, obs, sigma, seconds):
        """Assemble the result of :func:`refine_pdf` (internal)."""
        from pymatgen.core import Lattice, Structure

        calc = model.calc(vector)
        resid = calc - obs if sigma is None else (calc - obs) / sigma
        dof = max(1, obs.size - free.size)
        chi2 = float(np.sum(resid**2) / dof)
        names = model.names
        esd = {}
        if result is not None and free.size:
            cov = _covariance(np.asarray(result.jac), chi2)
            for k, j in enumerate(free):
                esd[names[j]] = float(np.sqrt(max(cov[k, k], 0.0)))
        p = dict(zip(names, (float(v) for v in vector)))
        cell = model.cell(vector)
        for key, value in zip(("a", "b", "c", "alpha", "beta", "gamma"), cell):
            p[key] = float(value)
        for key in ("b", "c"):
            if key not in model.mode and "a" in esd:
                esd[key] = esd["a"]
        matrix, frac, u = model.arrays(vector)
        conv = model.sym.structure
        u_site = vector[model.u_index]
        structure = Structure(
            Lattice.from_parameters(*cell),
            [site.species for site in conv],
            model.sym.positions([vector[s] for s in model.shift_slices]),
            site_properties={"Uiso": [float(v) for v in u_site]},
        )
        sites = []
        for orbit, sl in zip(model.sym.orbits, model.shift_slices):
            rep = orbit["rep"]
            x = structure[rep].frac_coords % 1.0
            for m, axis in enumerate(orbit["pivots"]):
                p[f"{orbit['label']}.{'xyz'[axis]}"] = float(x[axis])
            sites.append(
                dict(
                    label=orbit["label"],
                    species=dict(orbit["species"]),
                    wyckoff=orbit["wyckoff"],
                    frac=[float(v) for v in x],
                    uiso=float(u_site[rep]),
                )
            )
        info = dict(seconds=float(seconds))
        if result is not None:
            info.update(
                nfev=int(result.nfev),
                message=str(result.message),
                success=bool(result.success),
            )
        return cls(
            structure=structure,
            rw=rw_factor(obs, calc, sigma),
            chi2=chi2,
            parameters=p,
            esd=esd,
            sites=sites,
            space_group=model.sym.symbol,
            radiation=model.radiation,
            qmax=float(model.qmax),
            r=r,
            g_obs=obs,
            g_calc=calc,
            sigma=sigma,
            refined=[names[j] for j in free],
            info=info,
        )

    def summary(self):
        """A few lines a crystallographer reads first."""
        p, e = self.parameters, self.esd

        def show(name, fmt="{:.5f}"):
            text = fmt.format(p[name])
            if name in e:
                text += f" +/- {fmt.format(e[name])}"
            return f"{name} = {text}"

        probe = "X-ray" if self.radiation == "X" else "neutron"
        lines = [
            f"{self.structure.composition.reduced_formula} "
            f"{self.space_group}: Rw = {self.rw:.4f} over "
            f"{self.fit_range[0]:g}-{self.fit_range[1]:g} A "
            f"({self.n_parameters} parameters, {probe}, "
            f"Qmax {self.qmax:g})"
        ]
        lines.append(
            ", ".join(show(k) for k in ("a", "b", "c"))
            + ", "
            + ", ".join(show(k, "{:.3f}") for k in ("alpha", "beta", "gamma"))
        )
        lines.append(
            ", ".join(
                show(k)
                for k in ("scale", "delta1", "delta2", "qdamp", "spdiameter")
                if k in self.refined or p[k]
            )
        )
        for site in self.sites:
            xyz = " ".join(f"{v:.5f}" for v in site["frac"])
            lines.append(
                f"  {site['label']:<6} {site['wyckoff']:<5} {xyz}  "
                f"Uiso {site['uiso']:.5f}"
            )
        return "\n".join(lines)
