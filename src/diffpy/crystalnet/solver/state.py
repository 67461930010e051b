"""The state a solve run carries from step to step."""

from dataclasses import dataclass, field

from diffpy.crystalnet.solver.settings import SolveSettings

__all__ = ["SolveState"]


@dataclass(eq=False)
class SolveState:
    """Everything the steps of :func:`solve` read and write.

    Each step (:mod:`diffpy.crystalnet.solver.steps`) reads what the steps
    before it left here and adds its own part.

    Attributes
    ----------
    source : str or os.PathLike or Pattern
        What solve was given: a file or a pattern.
    composition : str or pymatgen.core.Composition or None
        The formula as given.
    wavelength : float or str or None
        The wavelength argument (overrides the file's).
    given_densities : sequence of array_like or None
        Densities to decode instead of network samples.
    settings : SolveSettings
    pattern : Pattern
        The observed pattern (step ``load``).
    where : str
        Where the pattern came from, for messages.
    model_input : ModelInput
        The pattern on the network's grid (step ``model_input``).
    composition_vector : numpy.ndarray
        The 118-vector composition prior.
    amounts : dict or None
        Element -> integer amount per formula unit.
    atoms_fu : int or None
        Atoms per formula unit.
    formula : str or None
        The integer formula as text.
    trials : list of tuple
        ``(conventional lattice, centring, info)`` per lattice tried
        (step ``lattice``).
    solutions : list
        The indexing solutions, when the lattice was indexed.
    lattices : list of tuple
        ``(primitive CMED lattice, info)`` decoded on.
    isotype_lattices : list or None
        The cells the isotype search uses (None: its own indexing).
    grids, grid_sources : list
        The densities and where each came from (step ``densities``).
    produced_by : str
        ``"network"`` or ``"given density"``.
    inputs : list of tuple
        ``(grid, source, lattice, info, steps, improvement)`` to decode.
    profiles : dict
        ``id(primitive lattice)`` -> profile of its Pawley extraction.
    decoded : list of tuple
        ``(decoded, grid, source, lattice, info, steps, improvement)``.
    candidates : list of Candidate
    provenance : dict
    timings : dict
        Step name -> wall-clock seconds.
    notes : list of str
        Warnings a user can act on.
    """

    source: object
    composition: object = None
    wavelength: object = None
    given_densities: object = None
    settings: SolveSettings = field(default_factory=SolveSettings)
    pattern: object = None
    where: str = "pattern"
    model_input: object = None
    composition_vector: object = None
    amounts: dict = None
    atoms_fu: int = None
    formula: str = None
    trials: list = field(default_factory=list)
    solutions: list = field(default_factory=list)
    lattices: list = field(default_factory=list)
    isotype_lattices: list = None
    grids: list = field(default_factory=list)
    grid_sources: list = field(default_factory=list)
    produced_by: str = "network"
    inputs: list = field(default_factory=list)
    profiles: dict = field(default_factory=dict)
    decoded: list = field(default_factory=list)
    candidates: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
