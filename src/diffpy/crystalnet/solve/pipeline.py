"""Solve a crystal structure from a powder pattern: the whole pipeline.

:func:`solve` runs, and times, these steps:

1. **Pattern**: read the file (:func:`~diffpy.crystalnet.load_pattern`) and
   bin it onto the CrystalNet input grid
   (:meth:`~diffpy.crystalnet.physics.pattern.Pattern.to_model_input`).
2. **Composition**: the formula as a 118-vector prior
   (:func:`~diffpy.crystalnet.physics.composition.composition_vector`).  It may
   be
   left out (the paper's network accepts an all-zero prior), with a
   warning: decoding then guesses elements from electron counts.
3. **Lattice**: given (text ``"a=5.4"``, ``"a=4.1,c=28.6"``, a pymatgen
   ``Lattice`` or six numbers) or found by indexing the pattern
   (:func:`diffpy.crystalnet.index.indexing.index_pattern`).  The density is
   defined on the standard primitive cell of
   :func:`~diffpy.crystalnet.physics.cells.cmed_cell`; for an indexing solution
   that
   is ``IndexingSolution.primitive_lattice()``, for a given conventional
   lattice the centring (P, I, F or R) is the most centred one whose
   allowed reflections explain the observed peaks (or ``centring=``), and
   the primitive cell is what :func:`cmed_cell` makes of the lattice points.
4. **Densities**: ``samples`` latent samples of the network
   (:meth:`~diffpy.crystalnet.model.network.CrystalNet.predict_grid`), or
   densities
   you pass (``densities=``, e.g. the true density: the decode-only
   ceiling).
5. **Decode** each density
(:func:`~diffpy.crystalnet.density.decode.decode_density`).
   With ``improve`` (default), each density is also improved against the
   data before decoding (:mod:`diffpy.crystalnet.refine.improve`): the observed
   reflection intensities are extracted once per lattice (Pawley), and the
   density's phases are combined with the observed amplitudes (Fourier
   recycling); both the raw and the improved map are decoded.
6. **Isotypes** (``isotypes``, default, needs the composition): the
   structure types of the shipped prototype library whose decorated
   patterns best match the data (:mod:`diffpy.crystalnet.isotypes.search`) join
   the
   network's candidates.
7. **Fit** each candidate to the observed profile
   (:func:`~diffpy.crystalnet.refine.profile_fit.fit_candidate`), merge
   candidates that are
   the same structure (pymatgen ``StructureMatcher``), and **rank** by Rwp.
8. **Refine** (``refine``, default) the ``refine_top`` best candidates by
   Rietveld-style least squares (:mod:`diffpy.crystalnet.refine.rietveld`); a
   refinement is kept when it lowers Rwp, then the candidates are ranked
   again.

Every candidate records which step produced it (``produced_by``) and which
changed it (``steps``), with Rwp after each (``rwp_history``).

Warnings a user can act on are collected in ``result.warnings`` (and per
candidate): a composition the cell cannot hold with sensible atomic volumes
(5-60 angstrom^3 per atom), a pattern without peaks, a candidate with
impossible interatomic distances, decoding failures.
"""

import hashlib
import os
import time
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import VOLUME_PER_ATOM, lattice_points
from diffpy.crystalnet.threads import one_blas_thread

__all__ = ["Candidate", "SolveResult", "solve"]

#: profile evaluations of the quick fit that ranks all decoded candidates
#: (when no Pawley extraction gave the profile)
QUICK_FIT_NFEV = 8

#: candidates with more symmetry-independent sites are not refined
REFINE_MAX_SITES = 10


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
        figures of merit (:func:`~diffpy.crystalnet.refine.rietveld
        .write_refined_cif`) unless ``symprec`` is given.

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
            from diffpy.crystalnet.refine.rietveld import write_refined_cif

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


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(pattern_or_path, wavelength):
    from diffpy.crystalnet.io.patterns import load_pattern
    from diffpy.crystalnet.physics.pattern import Pattern

    if isinstance(pattern_or_path, Pattern):
        pattern = pattern_or_path
        if wavelength is not None:
            from dataclasses import replace

            from diffpy.crystalnet.physics.wavelengths import (
                resolve_wavelength,
            )

            meta = dict(pattern.metadata)
            meta["wavelength_origin"] = "argument"
            pattern = replace(
                pattern,
                wavelength=resolve_wavelength(wavelength, "wavelength"),
                metadata=meta,
            )
        return pattern
    if isinstance(pattern_or_path, (str, os.PathLike)):
        return load_pattern(pattern_or_path, wavelength=wavelength)
    raise CrystalNetInputError(
        "expected a file path or a Pattern, not "
        f"{type(pattern_or_path).__name__}",
        "pattern",
    )


def _user_lattice(lattice):
    """A conventional pymatgen Lattice from text, a Lattice or 6 numbers."""
    from pymatgen.core import Lattice

    if isinstance(lattice, Lattice):
        return lattice
    if isinstance(lattice, str):
        from diffpy.crystalnet.index.indexing import parse_lattice

        parsed = parse_lattice(lattice)
        return parsed if isinstance(parsed, Lattice) else Lattice(parsed)
    values = np.asarray(lattice, dtype=float).ravel()
    if values.size == 6:
        try:
            from diffpy.crystalnet.index.indexing import cell_from_parameters

            return cell_from_parameters(*values)
        except ImportError:  # pragma: no cover - indexing not installed
            return Lattice.from_parameters(*values)
    if values.size == 9:
        return Lattice(values.reshape(3, 3))
    raise CrystalNetInputError(
        "give the lattice as text ('a=5.4', 'a=4.1,c=28.6'), a pymatgen "
        "Lattice, six numbers (a b c alpha beta gamma) or a 3x3 matrix",
        "lattice",
    )


def primitive_cmed_lattice(lattice, centring="P"):
    """The CMED cell (:func:`cmed_cell`) of a conventional lattice.

    Parameters
    ----------
    lattice : pymatgen.core.Lattice
        Conventional cell.
    centring : {"P", "I", "F", "R"}
        Its centring.

    Returns
    -------
    pymatgen.core.Lattice
        The standard primitive lattice, exactly as :func:`cmed_cell` gives
        it for a crystal with this lattice and centring.
    """
    from pymatgen.core import Structure

    from diffpy.crystalnet.physics.cells import cmed_cell

    points = lattice_points(centring)
    dummy = Structure(lattice, ["C"] * len(points), points)
    return cmed_cell(dummy).lattice


def _allowed_d(lattice, centring, q_max):
    """Sorted d-spacings of reflections allowed by the centring."""
    from diffpy.crystalnet.physics.simulator import enumerate_reflections

    hkl, g = enumerate_reflections(lattice.matrix, 0.0, q_max / (2 * np.pi))
    phase = hkl @ lattice_points(centring).T
    ok = np.all(np.abs(phase - np.rint(phase)) < 1e-6, axis=1)
    return np.sort(1.0 / g[ok & (g > 0)])


def infer_centring(lattice, pattern, candidates=None, tolerance=0.004):
    """The most centred lattice whose reflections explain the peaks.

    Parameters
    ----------
    lattice : pymatgen.core.Lattice
        The conventional cell.
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        The observed pattern (peaks from
        :func:`diffpy.crystalnet.index.peak_search.find_peaks`).
    candidates : sequence of str, optional
        Centrings to try; default F, I, P for a cubic cell, R, P for a
        hexagonal one, P otherwise.
    tolerance : float, optional
        Largest relative d-spacing error of an explained peak.

    Returns
    -------
    centring : str
    explained : float
        Fraction of the peaks explained.
    """
    from diffpy.crystalnet.index.peak_search import find_peaks

    if candidates is None:
        a, b, c, al, be, ga = lattice.parameters
        cubic = np.allclose([a, b], c, rtol=1e-4) and np.allclose(
            [al, be, ga], 90, atol=1e-3
        )
        hexagonal = (
            abs(a - b) < 1e-4 * a
            and np.allclose([al, be], 90, atol=1e-3)
            and abs(ga - 120) < 1e-3
        )
        candidates = ("F", "I", "P") if cubic else ("R", "P")
        if not cubic and not hexagonal:
            candidates = ("P",)
    peaks = find_peaks(pattern)
    q = np.asarray(peaks.q, dtype=float)
    if q.size == 0:
        return candidates[-1], 0.0
    d_obs = 2 * np.pi / q
    scores = {}
    for centring in candidates:
        d_calc = _allowed_d(lattice, centring, float(q.max()) * 1.02)
        if d_calc.size == 0:
            scores[centring] = 0.0
            continue
        idx = np.clip(np.searchsorted(d_calc, d_obs), 1, len(d_calc) - 1)
        near = np.minimum(
            np.abs(d_calc[idx] - d_obs), np.abs(d_calc[idx - 1] - d_obs)
        )
        scores[centring] = float(np.mean(near / d_obs < tolerance))
    best = max(scores.values())
    for centring in candidates:  # most centred first
        if scores[centring] >= best - 1e-9 and scores[centring] >= 0.9:
            return centring, scores[centring]
    return max(scores, key=scores.get), best


def _formula_atoms(composition):
    from diffpy.crystalnet.physics.composition import integer_formula

    amounts = None if composition is None else integer_formula(composition)
    return amounts, sum(amounts.values())


def _load_model(model):
    from diffpy.crystalnet.model.checkpoint import (
        default_model_path,
        load_model,
    )

    if model is None or isinstance(model, (str, os.PathLike)):
        path = default_model_path() if model is None else Path(model)
        net = load_model(model)
        info = dict(
            path=str(path),
            sha256=_sha256(path),
            default=model is None,
        )
        return net, info
    if hasattr(model, "predict_grid"):
        return model, dict(path=None, sha256=None, default=False)
    raise CrystalNetInputError(
        "model must be a checkpoint path or a CrystalNet, not "
        f"{type(model).__name__}",
        "model",
    )


def solve(
    pattern_or_path,
    composition=None,
    wavelength=None,
    lattice=None,
    samples=5,
    seed=0,
    model=None,
    densities=None,
    centring=None,
    n=50,
    systems=("cubic", "trigonal"),
    symprec=None,
    fit=True,
    dedupe=True,
    lattice_solutions=3,
    improve=True,
    isotypes=True,
    refine=True,
    refine_top=2,
    isotype_top=5,
    fit_top=6,
    precision="auto",
):
    """Solve a structure from a powder pattern with CrystalNet.

    Parameters
    ----------
    pattern_or_path : str or os.PathLike or Pattern
        The observed pattern (file or object).
    composition : str or pymatgen.core.Composition, optional
        The formula (a ratio).  Strongly recommended; without it a warning
        is issued and elements are guessed from electron counts.
    wavelength : float or str, optional
        Wavelength (angstrom or a line name); overrides the file's.
    lattice : str or pymatgen.core.Lattice or sequence, optional
        The conventional cell: ``"a=5.4"``, ``"a=4.1,c=28.6"``, a
        ``Lattice`` or ``(a, b, c, alpha, beta, gamma)``.  Default: index
        the pattern.
    samples : int, optional
        Latent samples of the network (default 5).
    seed : int, optional
        Seed of the latent samples (default 0: reproducible).
    model : str or os.PathLike or CrystalNet, optional
        Checkpoint or network; default the shipped model.
    densities : sequence of array_like, optional
        Decode these ``(n, n, n)`` densities on the CMED cell instead of
        network samples (no model is loaded), e.g. the true density for
        the decode-only ceiling.
    centring : {"P", "I", "F", "R"}, optional
        Centring of a given ``lattice``; default inferred from the peaks.
    n : int, optional
        Density grid points per edge (default 50).
    systems : sequence of str, optional
        Crystal systems tried by the indexing (default cubic, trigonal).
    symprec : sequence of float, optional
        Symmetry tolerances for decoding (default
        :data:`~diffpy.crystalnet.density.decode.DEFAULT_SYMPRECS`).
    fit : bool, optional
        Fit each candidate to the profile and rank by Rwp (default).
    dedupe : bool, optional
        Merge candidates that are the same structure (default).
    lattice_solutions : int, optional
        Decode on up to this many indexing solutions (default 3), best
        first, keeping those whose cell can hold the composition with
        5-60 A^3 per atom.  The network's densities do not depend on the
        lattice, so the extra cost is decoding and fitting; the fit decides
        between a cell and its pseudo-symmetric sub- or supercell (weak
        superstructure peaks are the classic indexing trap).
    improve : bool, optional
        Also decode each density after Fourier recycling with the observed
        intensities (default; :func:`~diffpy.crystalnet.refine.improve
        .improve_density`).
    isotypes : bool, optional
        Add the best-matching decorated prototypes of the shipped library
        (default; needs ``composition``; :func:`~diffpy.crystalnet
        .isotypes.search_isotypes`).
    refine : bool, optional
        Rietveld-refine the best candidates (default;
        :func:`~diffpy.crystalnet.refine.rietveld.refine_structure`).
    refine_top : int, optional
        How many of the best distinct candidates are refined (default 2).
    isotype_top : int, optional
        Isotypic candidates kept (default 5).
    fit_top : int, optional
        Every decoded candidate gets a quick fit that ranks them (scales
        and background only, with the profile of the cell's Pawley
        extraction; without ``improve``, a few evaluations of the profile
        fit); the best ``fit_top`` distinct ones (default 6) are then
        fitted to convergence.
    precision : {"auto", "float32", "bfloat16"}, optional
        Arithmetic of the network's point queries (see
        :meth:`~diffpy.crystalnet.model.network.CrystalNet.predict_grid`);
        ``auto``
        (default) uses bfloat16 only where the CPU computes it natively.

    Returns
    -------
    SolveResult
        A list of :class:`Candidate`, best (lowest Rwp) first, with
        ``provenance``, ``timings`` and ``warnings``.

    Raises
    ------
    CrystalNetInputError
        For unreadable or unusable input: a missing file, no wavelength, a
        bad formula or lattice, a pattern that cannot be indexed (the
        indexing message), no model.
    """
    from diffpy.crystalnet.density.decode import (
        DEFAULT_SYMPRECS,
        decode_density,
    )
    from diffpy.crystalnet.physics.composition import composition_vector
    from diffpy.crystalnet.version import __version__

    t_start = time.perf_counter()
    cpu_start = time.process_time()
    timings = {}
    notes = []

    def tick(name, t0):
        timings[name] = round(time.perf_counter() - t0, 4)
        return time.perf_counter()

    t = time.perf_counter()
    pattern = _load(pattern_or_path, wavelength)
    where = pattern.source or "pattern"
    t = tick("load", t)
    model_input = pattern.to_model_input()
    from diffpy.crystalnet.physics.model_input import find_grid_peaks

    n_peaks = len(find_grid_peaks(model_input))
    if n_peaks == 0:
        raise CrystalNetInputError("no peaks found in the pattern", where)
    if n_peaks < 3:
        notes.append(
            f"only {n_peaks} peak(s) found in the pattern: the solution is "
            "poorly constrained"
        )
    t = tick("model_input", t)

    if composition is None:
        comp_vec = composition_vector("H", mode="none")
        amounts, atoms_fu = None, None
        notes.append(
            "no composition given: the network runs without its "
            "composition prior and elements are guessed from electron "
            "counts (rough); give --composition"
        )
        formula = None
    else:
        comp_vec = composition_vector(composition)
        amounts, atoms_fu = _formula_atoms(composition)
        formula = "".join(
            f"{el}{k if k != 1 else ''}" for el, k in amounts.items()
        )

    trials = []  # (primitive lattice, info) per lattice to decode on
    if lattice is not None:
        info = {}
        conventional = _user_lattice(lattice)
        if centring is None:
            centring, explained = infer_centring(conventional, pattern)
            info["centring_origin"] = (
                f"inferred from the peaks ({explained:.0%} explained)"
            )
            if explained < 0.9:
                notes.append(
                    f"the given lattice explains only {explained:.0%} of "
                    "the peaks: check it (or impurity peaks)"
                )
        else:
            info["centring_origin"] = "given"
        info.update(origin="given", centring=centring)
        trials.append((conventional, centring, info))
    else:
        from diffpy.crystalnet.index.indexing import index_pattern

        solutions = index_pattern(pattern, systems=tuple(systems))
        if not solutions:
            raise CrystalNetInputError(
                "indexing found no lattice; give one with lattice=", where
            )
        for rank, sol in enumerate(solutions, 1):
            info = dict(
                origin="indexed",
                indexing_rank=rank,
                system=sol.system,
                centring=sol.centring,
                m20=None if sol.m20 is None else float(sol.m20),
                zero_shift=float(getattr(sol, "zero_shift", 0.0) or 0.0),
                description=sol.describe(),
            )
            trials.append((sol.lattice, sol.centring, info))
    lattices = []
    for conventional, cent, info in trials:
        prim = (
            primitive_cmed_lattice(conventional, cent)
            if info["origin"] == "given"
            else solutions[info["indexing_rank"] - 1].primitive_lattice()
        )
        info["conventional"] = [
            round(float(v), 5) for v in conventional.parameters
        ]
        info["cmed_cell"] = [round(float(v), 5) for v in prim.parameters]
        info["max_formula_units"] = None
        if atoms_fu:
            z_fit = _formula_units_possible(prim.volume, atoms_fu)
            info["formula_units_possible"] = z_fit
            info["fits_composition"] = bool(z_fit)
            info["max_formula_units"] = max(z_fit) if z_fit else None
        lattices.append((prim, info))
    if atoms_fu:
        fitting = [item for item in lattices if item[1]["fits_composition"]]
        if not fitting:
            prim, info = lattices[0]
            lo, hi = VOLUME_PER_ATOM
            notes.append(
                f"the composition {formula} does not fit the cell: "
                f"{prim.volume:.1f} A^3 (primitive) holds "
                f"{prim.volume / atoms_fu:.1f} A^3 per atom for one formula "
                f"unit, outside the usual {lo:g}-{hi:g} A^3 per atom; check "
                "the formula and the lattice"
            )
            fitting = lattices[:1]
        elif fitting[0] is not lattices[0]:
            notes.append(
                "the best indexing solution cannot hold the composition "
                f"{formula} with 5-60 A^3 per atom; using indexing "
                f"solution {fitting[0][1]['indexing_rank']} first"
            )
        lattices = fitting
    lattices = lattices[: max(1, int(lattice_solutions))]
    # the cells the isotype search puts prototypes on: the given one, or
    # (None) its own indexing of the systems its prototypes need plus its
    # scans of every prototype on the cell its strong reflections suggest,
    # which find types the indexing misses (tetragonal, failed indexing)
    iso_lattices = [trials[0][0]] if lattice is not None else None
    lattice_info = dict(lattices[0][1])
    if len(lattices) > 1:
        lattice_info["also_tried"] = [info for _, info in lattices[1:]]
    t = tick("lattice", t)

    provenance = dict(
        pattern=str(pattern.source),
        wavelength=pattern.wavelength,
        wavelength_origin=pattern.metadata.get("wavelength_origin"),
        composition=formula,
        composition_given=composition is not None,
        lattice=lattice_info,
        grid=n,
        package_version=str(__version__),
    )
    if densities is not None:
        grids = [np.asarray(g, dtype=float) for g in densities]
        for g in grids:
            if g.ndim != 3:
                raise CrystalNetInputError(
                    "each density must be a 3D grid", "densities"
                )
        sources = [f"given density {k + 1}" for k in range(len(grids))]
        provenance["model"] = None
        provenance["densities"] = "given"
    else:
        net, info = _load_model(model)
        provenance["model"] = info
        provenance["samples"] = int(samples)
        provenance["seed"] = seed
        pred = net.predict_grid(
            model_input.intensity,
            comp_vec,
            n=n,
            samples=samples,
            seed=seed,
            mask=model_input.mask,
            precision=precision,
        )
        provenance["precision"] = _precision_used(precision)
        grids = [np.asarray(g, dtype=float) for g in pred]
        sources = [f"network sample {k + 1}" for k in range(len(grids))]
    t = tick("densities", t)

    produced = "given density" if densities is not None else "network"
    inputs = []  # (grid, source, prim, info, steps, improvement)
    for k, (prim, info) in enumerate(lattices):
        suffix = "" if len(lattices) == 1 else f", lattice {k + 1}"
        for grid, source in zip(grids, sources):
            inputs.append(
                (grid, source + suffix, prim, info, [produced], None)
            )
    profiles = {}  # id(primitive lattice) -> profile from the extraction
    if improve:
        inputs += _improved_inputs(pattern, lattices, inputs, notes, profiles)
    t = tick("improve", t)

    decoded = []
    for grid, source, prim, info, steps, improvement in inputs:
        try:
            dec = decode_density(
                grid,
                prim,
                composition,
                symprec=symprec or DEFAULT_SYMPRECS,
                max_formula_units=info["max_formula_units"],
            )
        except CrystalNetInputError as err:
            notes.append(f"{source}: not decoded ({err.problem})")
            continue
        decoded.append(
            (dec, grid, source, prim, info, steps + ["decode"], improvement)
        )
    if not decoded:
        notes.append("no density could be decoded into a structure")
    t = tick("decode", t)

    candidates = []
    for dec, grid, source, prim, info, steps, improvement in decoded:
        cand_notes = list(dec.warnings)
        result, structure = None, dec.structure
        if fit:
            try:
                result = _quick_fit(structure, pattern, profiles.get(id(prim)))
            except CrystalNetInputError as err:
                cand_notes.append(f"fit failed: {err.problem}")
        candidates.append(
            Candidate(
                structure=structure,
                rwp=None if result is None else float(result.rwp),
                rp=None if result is None else float(result.rp),
                chi2=None if result is None else float(result.chi2),
                spacegroup=dec.spacegroup_symbol,
                spacegroup_number=dec.spacegroup_number,
                symprec=dec.symprec,
                density=grid,
                lattice=prim,
                cell_structure=dec.cell_structure,
                source=source,
                decoded=dec,
                fit=result,
                warnings=cand_notes,
                lattice_info=info,
                produced_by=produced,
                steps=steps + (["quick fit"] if result is not None else []),
                rwp_history=(
                    []
                    if result is None
                    else [("quick fit", float(result.rwp))]
                ),
                improvement=improvement,
            )
        )
    if fit:
        # the quick fits rank the candidates; the best distinct ones get
        # the full fit (most decoded densities are far off and a full fit
        # of each would dominate the run time)
        candidates.sort(key=_rank_key)
        if dedupe:
            candidates = _dedupe(candidates)
        for cand in candidates[: max(0, int(fit_top))]:
            if cand.fit is None:
                continue
            _full_fit(cand, pattern)
    t = tick("fit", t)
    if isotypes:
        if composition is None:
            notes.append("isotype search skipped: it needs the composition")
        elif fit:
            candidates += _isotype_candidates(
                pattern, composition, iso_lattices, isotype_top, notes
            )
    t = tick("isotypes", t)
    candidates.sort(key=_rank_key)
    if dedupe:
        candidates = _dedupe(candidates)
    t = tick("rank", t)
    if refine and fit:
        _refine_candidates(candidates, pattern, refine_top)
        candidates.sort(key=_rank_key)
        if dedupe:
            candidates = _dedupe(candidates)
    t = tick("refine", t)
    notes += _contact_notes(candidates)
    timings["total"] = round(time.perf_counter() - t_start, 4)
    timings["cpu_total"] = round(time.process_time() - cpu_start, 4)
    out = SolveResult(candidates, pattern=pattern, provenance=provenance)
    out.timings = timings
    out.warnings = notes
    for note in notes:
        _warnings.warn(f"{where}: {note}", UserWarning, stacklevel=2)
    return out


def _full_fit(cand, pattern):
    """Continue a candidate's quick fit to convergence (in place)."""
    start = {
        k: cand.fit.parameters[k]
        for k in ("zero_shift", "u", "v", "w", "b_iso", "strain")
        if cand.fit.parameters.get(k) is not None
    }
    size = cand.fit.parameters.get("crystallite_size")
    start["inverse_size"] = 1.0 / size if size else 0.0
    try:
        result = _fit(cand.structure, pattern, start=start)
    except CrystalNetInputError as err:
        cand.warnings.append(f"full fit failed: {err.problem}")
        return
    if result.rwp > cand.rwp:  # keep the better of the two
        result = cand.fit
    cand.fit = result
    cand.structure = _strained(cand.structure, result)
    cand.rwp, cand.rp, cand.chi2 = (
        float(result.rwp),
        float(result.rp),
        float(result.chi2),
    )
    cand.steps.append("fit")
    cand.rwp_history.append(("fit", float(result.rwp)))


def _contact_notes(candidates):
    """One warning about impossible interatomic distances, not one each."""
    bad = [
        cand
        for cand in candidates
        if any(n.startswith("impossible distance") for n in cand.warnings)
    ]
    if not bad:
        return []
    notes = []
    if candidates and bad[0] is candidates[0]:
        first = next(
            n for n in bad[0].warnings if n.startswith("impossible distance")
        )
        notes.append(
            f"the best candidate ({bad[0].source}) has an {first}: do not "
            "refine it as it is"
        )
    notes.append(
        f"{len(bad)} of {len(candidates)} candidates have impossible "
        "interatomic distances (listed per candidate in candidates.json)"
    )
    return notes


def _precision_used(precision):
    from diffpy.crystalnet.model.network import native_bfloat16

    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


def _rank_key(cand):
    return (cand.rwp is None, cand.rwp if cand.rwp is not None else 0.0)


def _strained(structure, result):
    """The structure with the cell scaled by the fit's isotropic strain."""
    strain = result.parameters.get("strain", 0.0) or 0.0
    if not strain:
        return structure
    structure = structure.copy()
    structure.scale_lattice(structure.volume * (1 + strain) ** 3)
    return structure


def _improved_inputs(pattern, lattices, inputs, notes, profiles):
    """Fourier-recycled copies of the densities, one extraction per cell.

    The profile each extraction refined (zero shift, widths, strain of the
    cell) is stored in ``profiles`` under ``id(primitive lattice)``.
    """
    from diffpy.crystalnet.refine.improve import (
        extract_intensities,
        fourier_recycle,
    )

    improved = []
    for prim, info in lattices:
        mine = [item for item in inputs if item[2] is prim]
        if not mine:
            continue
        try:
            extracted = extract_intensities(
                pattern,
                prim,
                profile={"zero_shift": info.get("zero_shift", 0.0) or 0.0},
            )
        except CrystalNetInputError as err:
            notes.append(f"density improvement skipped: {err.problem}")
            continue
        profiles[id(prim)] = {
            k: extracted.parameters[k]
            for k in ("zero_shift", "u", "v", "w", "inverse_size", "strain")
            if extracted.parameters.get(k) is not None
        }
        for grid, source, _, _, steps, _ in mine:
            try:
                out = fourier_recycle(grid, prim, extracted)
            except CrystalNetInputError as err:
                notes.append(f"{source}: not improved ({err.problem})")
                continue
            diagnostics = dict(
                extraction_rwp=float(extracted.rwp),
                reflections_observed=int(out.n_observed),
                r_before=float(out.r_before),
                r_after=float(out.r_after),
                scale=float(out.scale),
            )
            improved.append(
                (
                    out.density,
                    source + ", improved",
                    prim,
                    info,
                    steps + ["improve"],
                    diagnostics,
                )
            )
    return improved


def _isotype_candidates(pattern, composition, lattices, top, notes):
    """The isotype search's matches as candidates."""
    from diffpy.crystalnet.isotypes.search import search_isotypes

    try:
        found = search_isotypes(
            pattern, composition, lattices=lattices, top=top
        )
    except CrystalNetInputError as err:
        notes.append(f"isotype search failed: {err.problem}")
        return []
    out = []
    for iso in found:
        name = f" ({iso.name})" if iso.name else ""
        fit = iso.fit
        out.append(
            Candidate(
                structure=iso.structure,
                rwp=None if fit is None else float(fit.rwp),
                rp=None if fit is None else float(fit.rp),
                chi2=None if fit is None else float(fit.chi2),
                spacegroup=iso.spacegroup_symbol,
                spacegroup_number=iso.spacegroup_number,
                symprec=None,
                density=None,
                lattice=None,
                cell_structure=None,
                source=f"isotype {iso.prototype}{name}",
                fit=fit,
                lattice_info=dict(iso.lattice_info),
                produced_by="isotypes",
                steps=["isotypes"] + (["fit"] if fit is not None else []),
                rwp_history=[] if fit is None else [("fit", float(fit.rwp))],
                isotype=iso,
            )
        )
    return out


def _independent_sites(structure, symprec=0.01):
    """Number of symmetry-independent sites (Wyckoff orbits)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        sym = SpacegroupAnalyzer(structure, symprec=symprec)
        return len(sym.get_symmetrized_structure().equivalent_sites)
    except Exception:  # spglib failure: count every site
        return len(structure)


def _refine_candidates(candidates, pattern, top, max_sites=REFINE_MAX_SITES):
    """Rietveld-refine the ``top`` best candidates in place; keep what helps.

    Candidates with more than ``max_sites`` independent sites (typically
    P1 decodings of a poor density) are skipped: their many free
    coordinates make the refinement slow and, from a guess far off, it does
    not converge to a structure.
    """
    from diffpy.crystalnet.refine.rietveld import refine_structure

    for cand in candidates[: max(0, int(top))]:
        if cand.rwp is None:
            continue
        sites = _independent_sites(cand.structure)
        if sites > max_sites:
            cand.warnings.append(
                f"not refined: {sites} symmetry-independent sites (more "
                f"than {max_sites}; a low-symmetry guess is not worth a "
                "Rietveld refinement)"
            )
            continue
        try:
            with one_blas_thread():
                ref = refine_structure(
                    cand.structure,
                    pattern,
                    symprec=min(cand.symprec or 0.01, 0.01),
                    # the structure already carries the fit's strain
                    start=dict(cand.fit.parameters, strain=0.0),
                    # the fit already refined the cell (isotropic strain):
                    # the coarse cell search (most of the time) is not needed
                    coarse=False,
                )
        except (CrystalNetInputError, np.linalg.LinAlgError) as err:
            problem = getattr(err, "problem", str(err))
            cand.warnings.append(f"refinement failed: {problem}")
            continue
        if not np.isfinite(ref.rwp) or ref.rwp >= cand.rwp:
            cand.warnings.append(
                f"refinement did not lower Rwp ({100 * ref.rwp:.2f} % vs "
                f"{100 * cand.rwp:.2f} %): not kept"
            )
            continue
        cand.structure = ref.structure
        cand.rwp, cand.rp, cand.chi2 = (
            float(ref.rwp),
            float(ref.rp),
            float(ref.chi2),
        )
        cand.fit = ref.fit
        cand.spacegroup = ref.spacegroup_symbol
        cand.spacegroup_number = ref.spacegroup_number
        cand.refinement = ref
        cand.steps.append("refine")
        cand.rwp_history.append(("refine", float(ref.rwp)))
        cand.warnings.extend(f"refinement: {w}" for w in ref.warnings)


def _formula_units_possible(volume, atoms_fu):
    """Formula units per cell giving a sensible volume per atom."""
    lo, hi = VOLUME_PER_ATOM
    return [
        z
        for z in range(1, int(volume / (lo * atoms_fu)) + 1)
        if lo <= volume / (z * atoms_fu) <= hi
    ]


def _fit(structure, pattern, max_nfev=60, start=None, refine=None):
    from diffpy.crystalnet.refine.profile_fit import (
        DEFAULT_REFINE,
        fit_candidate,
    )

    if refine is None:
        refine = tuple(DEFAULT_REFINE) + ("strain",)
    with one_blas_thread():
        return fit_candidate(
            structure,
            pattern,
            refine=refine,
            max_nfev=max_nfev,
            start=start,
        )


def _quick_fit(structure, pattern, profile=None):
    """The ranking fit of a decoded candidate.

    With the profile of the cell's Pawley extraction (zero shift, widths,
    cell strain), only the linear parameters (scales, background) are
    solved for: one evaluation, a fraction of the cost of a profile fit.
    Without it, a few evaluations of the full profile fit.
    """
    if profile:
        return _fit(structure, pattern, start=profile, refine=())
    return _fit(structure, pattern, max_nfev=QUICK_FIT_NFEV)


def _neighbour_signature(structure):
    """Sorted nearest-neighbour distance of the sites of each element."""
    dist = np.array(structure.distance_matrix, dtype=float)
    np.fill_diagonal(dist, np.inf)
    nearest = dist.min(axis=1)
    symbols = np.array([site.specie.symbol for site in structure])
    return {el: np.sort(nearest[symbols == el]) for el in set(symbols)}


def _similar_neighbours(a, b, cache, tol=0.3):
    """Whether two candidates' neighbour signatures agree within ``tol``."""
    sig = []
    for cand in (a, b):
        key = id(cand.structure)
        if key not in cache:
            cache[key] = _neighbour_signature(cand.structure)
        sig.append(cache[key])
    if sig[0].keys() != sig[1].keys():
        return False
    return all(
        len(sig[0][el]) == len(sig[1][el])
        and np.all(np.abs(sig[0][el] - sig[1][el]) <= tol)
        for el in sig[0]
    )


def _dedupe(candidates):
    """Merge candidates that are the same structure (keep the first)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    kept = []
    signatures = {}
    for cand in candidates:
        for other in kept:
            # the same structure has the same refined conventional cell and
            # the same nearest-neighbour distances: compare only those
            # (StructureMatcher is slow on big P1 cells)
            if (
                other.formula == cand.formula
                and other.spacegroup_number == cand.spacegroup_number
                and len(other.structure) == len(cand.structure)
                and _similar_neighbours(other, cand, signatures)
                and matcher.fit(other.structure, cand.structure)
            ):
                other.also_from.append(cand.source)
                break
        else:
            kept.append(cand)
    return kept


# End of file
