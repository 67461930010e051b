"""Solution candidates and the ranked result of a solve run."""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Candidate", "SolveResult"]


@dataclass(eq=False)
class Candidate:
    """One solution candidate.

    Attributes
    ----------
    structure : pymatgen.core.Structure
        The symmetrised structure (conventional cell), lattice scaled by the
        refined strain of the fit.
    rwp, rp, chi2 : float or None
        Agreement with the observed profile (None when the fit failed).
    spacegroup : str
        Hermann-Mauguin symbol of the space group imposed.
    spacegroup_number : int
        Its number.
    symprec : float or None
        spglib tolerance that found it (angstrom).
    density : numpy.ndarray
        The ``(n, n, n)`` density it was decoded from (e/angstrom^3) on
        :attr:`lattice`.
    lattice : pymatgen.core.Lattice
        The CMED cell of the density.
    cell_structure : pymatgen.core.Structure
        The decoded atoms on the density's cell (P1).
    source : str
        Where the density came from (``"network sample 3"``, ``"given
        density 1"``); merged duplicates are listed in :attr:`also_from`.
    decoded : diffpy.crystalnet.density.decode.DecodedCandidate
        Decoding details (sites with electrons, formula units).
    fit : diffpy.crystalnet.refine.profile_fit.FitResult or None
        The profile fit.
    warnings : list of str
        Problems found with this candidate.
    also_from : list of str
        Other densities that decoded to the same structure.
    lattice_info : dict
        The lattice it was decoded on: given or indexed (rank, M20), the
        conventional and CMED cells.
    produced_by : str
        The step that produced it: ``"network"``, ``"given density"`` or
        ``"isotypes"``.
    steps : list of str
        The steps that made and changed it, in order (``"network"``,
        ``"improve"``, ``"decode"``, ``"isotypes"``, ``"fit"``,
        ``"refine"``).
    rwp_history : list of (str, float)
        Rwp after each step that computed one (``"fit"``, ``"refine"``).
    improvement : dict or None
        Fourier recycling diagnostics of the density it was decoded from.
    isotype : diffpy.crystalnet.isotypes.search.IsotypeCandidate or None
        The prototype match it came from.
    refinement : diffpy.crystalnet.refine.rietveld.RefinementResult or None
        The Rietveld refinement that changed it (kept only when it lowered
        Rwp).
    """

    structure: object
    rwp: float
    rp: float
    chi2: float
    spacegroup: str
    spacegroup_number: int
    symprec: float
    density: np.ndarray
    lattice: object
    cell_structure: object
    source: str
    decoded: object = None
    fit: object = None
    warnings: list = field(default_factory=list)
    also_from: list = field(default_factory=list)
    lattice_info: dict = field(default_factory=dict)
    produced_by: str = "network"
    steps: list = field(default_factory=list)
    rwp_history: list = field(default_factory=list)
    improvement: dict = None
    isotype: object = None
    refinement: object = None

    @property
    def formula(self):
        """Reduced formula (str)."""
        return self.structure.composition.reduced_formula

    def density_on_cell(self, n=50):
        """The candidate's density and the structure of its cell.

        A candidate without a density (an isotype) gets the
        independent-atom-model density of its structure
        (:func:`~diffpy.crystalnet.density.cmed`, B = 5 angstrom^2), computed
        once and kept.

        Parameters
        ----------
        n : int, optional
            Grid points per edge when the density must be computed.

        Returns
        -------
        density : numpy.ndarray
            ``(n, n, n)`` electrons per cubic angstrom.
        cell_structure : pymatgen.core.Structure
            The structure on the density's cell.
        """
        if self.density is None:
            from diffpy.crystalnet.density.cmed import cmed

            grid, cell = cmed(self.structure, n=n, return_structure=True)
            self.density, self.cell_structure = grid, cell
            self.lattice = cell.lattice
        return self.density, self.cell_structure

    def to_diffpy(self):
        """The structure as a ``diffpy.structure.Structure``.

        Returns
        -------
        diffpy.structure.Structure
            For diffpy.srfit, diffpy.pdffit2 or diffpy.srreal.
        """
        from diffpy.crystalnet.io.structures import to_diffpy

        return to_diffpy(self.structure)

    def write_cif(self, path, force=False, symprec=None):
        """Write the symmetrised structure as CIF (atomic write).

        A refined candidate is written with its esds and the Rietveld
        figures of merit
        (:func:`~diffpy.crystalnet.refine.cif.write_refined_cif`) unless
        ``symprec`` is given.

        Parameters
        ----------
        path : str or os.PathLike
            Output file.
        force : bool, optional
            Replace an existing file.
        symprec : float, optional
            Tolerance for the symmetry written; default the one used when
            decoding (0.01 if none was found).

        Returns
        -------
        pathlib.Path
        """
        from diffpy.crystalnet.io.structures import write_cif

        if self.refinement is not None and symprec is None:
            from diffpy.crystalnet.refine.cif import write_refined_cif

            return write_refined_cif(self.refinement, path, force=force)
        tol = symprec if symprec is not None else (self.symprec or 0.01)
        # the structure is already on exact positions: a tight tolerance
        # keeps exactly the space group that was imposed
        return write_cif(
            self.structure, path, symprec=min(tol, 0.01), force=force
        )

    def summary(self):
        """Plain-data summary (for JSON).

        Returns
        -------
        dict
        """
        s = self.structure
        sites = []
        try:
            from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

            sym = SpacegroupAnalyzer(
                s, symprec=0.01
            ).get_symmetrized_structure()
            for group, wyck in zip(sym.equivalent_sites, sym.wyckoff_symbols):
                site = group[0]
                sites.append(
                    dict(
                        element=site.specie.symbol,
                        wyckoff=wyck,
                        frac=[round(float(v), 5) for v in site.frac_coords],
                    )
                )
        except Exception:  # keep the summary even if spglib balks
            sites = [
                dict(
                    element=site.specie.symbol,
                    frac=[round(float(v), 5) for v in site.frac_coords],
                )
                for site in s
            ]
        fit = None
        if self.fit is not None:
            fit = {
                k: v
                for k, v in self.fit.parameters.items()
                if k not in ("refined",)
            }
        return dict(
            formula=self.formula,
            spacegroup=self.spacegroup,
            spacegroup_number=self.spacegroup_number,
            symprec=self.symprec,
            rwp=self.rwp,
            rp=self.rp,
            chi2=self.chi2,
            atoms_conventional=len(s),
            lattice=dict(
                zip(
                    ("a", "b", "c", "alpha", "beta", "gamma"),
                    [round(float(v), 5) for v in s.lattice.parameters],
                )
            ),
            sites=sites,
            density_sites=self.decoded.sites if self.decoded else None,
            formula_units_per_density_cell=(
                self.decoded.formula_units if self.decoded else None
            ),
            source=self.source,
            produced_by=self.produced_by,
            steps=list(self.steps),
            rwp_history=[
                dict(step=step, rwp=value) for step, value in self.rwp_history
            ],
            also_from=list(self.also_from),
            lattice_used=dict(self.lattice_info),
            fit=fit,
            improvement=self.improvement,
            isotype=_isotype_summary(self.isotype),
            refinement=_refinement_summary(self.refinement),
            warnings=list(self.warnings),
        )


def _isotype_summary(iso):
    if iso is None:
        return None
    return dict(
        prototype=iso.prototype,
        name=iso.name,
        decoration=dict(iso.decoration),
        screen_r=float(iso.screen),
    )


def _refinement_summary(ref):
    if ref is None:
        return None
    return dict(
        rwp_before=float(ref.rwp_before),
        rwp=float(ref.rwp),
        rp=float(ref.rp),
        rexp=float(ref.rexp),
        gof=float(ref.gof),
        spacegroup=ref.spacegroup_symbol,
        n_parameters=int(ref.n_parameters),
        parameters={
            k: v for k, v in ref.parameters.items() if k not in ("refined",)
        },
        esd=dict(ref.esd),
        sites=ref.sites,
        nfev=int(ref.nfev),
        success=bool(ref.success),
        warnings=list(ref.warnings),
    )


class SolveResult(list):
    """The candidates, best first, with what the run used and measured.

    A list of :class:`Candidate` with extra attributes:

    Attributes
    ----------
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        The observed pattern.
    provenance : dict
        Input file, wavelength and its origin, composition, lattice and its
        origin (given or indexed, with M20), model path, sha256 and
        package version, samples, seed.
    timings : dict
        Wall-clock seconds per step (``load``, ``model_input``,
        ``lattice``, ``densities``, ``decode``, ``fit``, ``rank``,
        ``total``) and
        ``cpu_total``, the CPU seconds of this process (all threads).
    warnings : list of str
        Problems a user can act on.
    """

    def __init__(self, candidates=(), pattern=None, provenance=None):
        super().__init__(candidates)
        self.pattern = pattern
        self.provenance = dict(provenance or {})
        self.timings = {}
        self.warnings = []

    @property
    def best(self):
        """The top candidate, or None."""
        return self[0] if self else None
