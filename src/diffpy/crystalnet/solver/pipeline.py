"""Solve a crystal structure from a powder pattern: the whole pipeline.

:func:`solve` runs, and times, these steps:

1. **Pattern**: read the file (:func:`~diffpy.crystalnet.load_pattern`) and
   bin it onto the CrystalNet input grid
   (:meth:`~diffpy.crystalnet.physics.pattern.Pattern.to_model_input`).
2. **Composition**: the formula as a 118-vector prior
   (:func:`~diffpy.crystalnet.physics.composition.composition_vector`).
   It may be left out (the paper's network accepts an all-zero prior), with a
   warning: decoding then guesses elements from electron counts.
3. **Lattice**: given (text ``"a=5.4"``, ``"a=4.1,c=28.6"``, a pymatgen
   ``Lattice`` or six numbers) or found by indexing the pattern
   (:func:`diffpy.crystalnet.index.indexing.index_pattern`).  The density is
   defined on the standard primitive cell of
   :func:`~diffpy.crystalnet.physics.cells.cmed_cell`; for an indexing solution
   that is ``IndexingSolution.primitive_lattice()``, for a given conventional
   lattice the centring (P, I, F or R) is the most centred one whose allowed
   reflections explain the observed peaks (or ``centring=``), and the primitive
   cell is what :func:`cmed_cell` makes of the lattice points.
4. **Densities**: ``samples`` latent samples of the network
   (:meth:`~diffpy.crystalnet.model.network.CrystalNet.predict_grid`), or
   densities you pass (``densities=`` of :func:`solve`, e.g. the true density:
   the decode-only ceiling).
5. **Decode** each density
   (:func:`~diffpy.crystalnet.density.decode.decode_density`). With
   ``settings.improve`` (default), each density is also improved against the
   data before decoding (:mod:`diffpy.crystalnet.solver.recycle`): the observed
   reflection intensities are extracted once per lattice (Pawley), and the
   density's phases are combined with the observed amplitudes (Fourier
   recycling); both the raw and the improved map are decoded.
6. **Isotypes** (``settings.isotypes``, default, needs the composition): the
   structure types of the shipped prototype library whose decorated patterns
   best match the data (:mod:`diffpy.crystalnet.isotypes.search`) join the
   network's candidates.
7. **Fit** each candidate to the observed profile
   (:func:`~diffpy.crystalnet.refine.profile_fit.fit_candidate`), merge
   candidates that are the same structure (pymatgen ``StructureMatcher``), and
   **rank** by Rwp.
8. **Ab initio** (``settings.abinitio``; by default only when no candidate
   reaches Rwp 15 %): the composition is placed on the Wyckoff positions of
   the most likely space groups and the arrangement that fits the
   Pawley-extracted intensities is searched by parallel tempering
   (:mod:`diffpy.crystalnet.abinitio.direct_space`); its best arrangements
   are fitted and ranked with the others.
9. **Refine** (``settings.refine``, default) the ``top`` best candidates by
   Rietveld-style least squares (:mod:`diffpy.crystalnet.refine.rietveld`); a
   refinement is kept when it lowers Rwp, then the candidates are ranked
   again.

Every candidate records which step produced it (``produced_by``) and which
changed it (``steps``), with Rwp after each (``rwp_history``).

Warnings a user can act on are collected in ``result.warnings`` (and per
candidate): a composition the cell cannot hold with sensible atomic volumes
(5-60 angstrom^3 per atom), a pattern without peaks, a candidate with
impossible interatomic distances, decoding failures.

Each step is a module of :mod:`diffpy.crystalnet.solver.steps` with a
``run(state)`` over one :class:`~diffpy.crystalnet.solver.state.SolveState`;
:data:`STEPS` lists them in order, and a new step (e.g. a global
optimisation) is a new module there and one entry in :data:`STEPS`.  What
the steps do is chosen by one
:class:`~diffpy.crystalnet.solver.settings.SolveSettings`.
"""

import time
import warnings as _warnings

from diffpy.crystalnet.solver.candidates import SolveResult
from diffpy.crystalnet.solver.ranking import contact_notes
from diffpy.crystalnet.solver.settings import SolveSettings
from diffpy.crystalnet.solver.state import SolveState
from diffpy.crystalnet.solver.steps import (
    abinitio,
    decode,
    densities,
    fit,
    improve,
    isotypes,
    lattice,
    load,
    model_input,
    rank,
    refine,
)

__all__ = ["STEPS", "solve"]

#: the steps of a solve run, in order (each times itself under its NAME)
STEPS = (
    load,
    model_input,
    lattice,
    densities,
    improve,
    decode,
    isotypes,
    fit,
    abinitio,
    rank,
    refine,
)


def solve(
    pattern_or_path,
    composition=None,
    settings=None,
    wavelength=None,
    densities=None,
):
    """Solve a structure from a powder pattern with CrystalNet.

    Parameters
    ----------
    pattern_or_path : str or os.PathLike or Pattern
        The observed pattern (file or object).
    composition : str or pymatgen.core.Composition, optional
        The formula (a ratio).  Strongly recommended; without it a warning
        is issued and elements are guessed from electron counts.
    settings : SolveSettings, optional
        What each step does (default: the command line's defaults).  Build
        one from flat option names with :meth:`SolveSettings.from_options`.
    wavelength : float or str, optional
        Wavelength (angstrom or a line name); overrides the file's.
    densities : sequence of array_like, optional
        Decode these ``(n, n, n)`` densities on the CMED cell instead of
        network samples (no model is loaded), e.g. the true density for
        the decode-only ceiling.

    Returns
    -------
    SolveResult
        A list of :class:`~diffpy.crystalnet.solver.candidates.Candidate`,
        best (lowest Rwp) first, with ``provenance``, ``timings`` and
        ``warnings``.

    Raises
    ------
    CrystalNetInputError
        For unreadable or unusable input: a missing file, no wavelength, a
        bad formula or lattice, a pattern that cannot be indexed (the
        indexing message), no model, settings out of range.

    Examples
    --------
    A run without the network's densities (isotype search and refinement
    only), on the example shipped with the repository::

        from diffpy.crystalnet import SolveSettings, solve

        settings = SolveSettings.from_options(lattice="a=10.1", samples=1)
        result = solve("examples/Zr3Sb4Pt3_CuKa.xye", "Zr3Sb4Pt3", settings)
        print(result.best.summary())
    """
    if settings is None:
        settings = SolveSettings()
    if not isinstance(settings, SolveSettings):
        from diffpy.crystalnet.errors import CrystalNetInputError

        raise CrystalNetInputError(
            "expected a SolveSettings (SolveSettings.from_options(...)), "
            f"not {type(settings).__name__}",
            "settings",
        )
    settings.validated()
    state = SolveState(
        source=pattern_or_path,
        composition=composition,
        wavelength=wavelength,
        given_densities=densities,
        settings=settings,
    )
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    for step in STEPS:
        t0 = time.perf_counter()
        step.run(state)
        state.timings[step.NAME] = round(time.perf_counter() - t0, 4)
    state.notes += contact_notes(state.candidates)
    state.timings["total"] = round(time.perf_counter() - t_start, 4)
    state.timings["cpu_total"] = round(time.process_time() - cpu_start, 4)
    out = SolveResult(
        state.candidates, pattern=state.pattern, provenance=state.provenance
    )
    out.timings = state.timings
    out.warnings = state.notes
    for note in state.notes:
        _warnings.warn(f"{state.where}: {note}", UserWarning, stacklevel=2)
    return out
