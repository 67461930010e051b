"""What :func:`~diffpy.crystalnet.solver.pipeline.solve` does, in one object.

:class:`SolveSettings` groups the choices of a solve run by the step they
steer: the lattice (given or indexed), the network's density samples, the
decoding of densities into structures, their improvement against the data,
the ranking fit, the isotype search, the Rietveld refinement and the files
written.  The defaults are those of the command line.

Examples
--------
>>> settings = SolveSettings()
>>> settings.sampling.samples
5
>>> quick = SolveSettings.from_options(samples=2, refine=False)
>>> quick.sampling.samples, quick.refine.enabled
(2, False)
"""

from dataclasses import dataclass, field, fields
from pathlib import Path

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import CRYSTAL_SYSTEMS

__all__ = [
    "AbinitioSettings",
    "DecodeSettings",
    "ImproveSettings",
    "IsotypeSettings",
    "LatticeSettings",
    "OutputSettings",
    "RankSettings",
    "RefineSettings",
    "SamplingSettings",
    "SolveSettings",
]


@dataclass
class LatticeSettings:
    """The lattice: given, or found by indexing the pattern.

    Attributes
    ----------
    lattice : str or pymatgen.core.Lattice or sequence, optional
        The conventional cell: ``"a=5.4"``, ``"a=4.1,c=28.6"``, a
        ``Lattice``, ``(a, b, c, alpha, beta, gamma)`` or a 3x3 matrix.
        Default: index the pattern.
    centring : {"P", "I", "F", "R"}, optional
        Centring of a given ``lattice``; default inferred from the peaks.
    systems : tuple of str
        Crystal systems tried by the indexing (default all seven; the more
        symmetric of equally good cells wins, and a convincing cubic or
        hexagonal cell ends the search early).
    solutions : int
        Decode on up to this many indexing solutions, best first, keeping
        those whose cell can hold the composition with 5-60 A^3 per atom.
        The network's densities do not depend on the lattice, so the extra
        cost is decoding and fitting; the fit decides between a cell and
        its pseudo-symmetric sub- or supercell.
    """

    lattice: object = None
    centring: str = None
    systems: tuple = tuple(reversed(CRYSTAL_SYSTEMS))
    solutions: int = 3


@dataclass
class SamplingSettings:
    """The densities: network samples, or densities you pass to solve.

    Attributes
    ----------
    samples : int
        Latent samples of the network.
    seed : int
        Seed of the latent samples (reproducible runs).
    model : str or os.PathLike or CrystalNet, optional
        Checkpoint or network; default the shipped model.
    grid : int
        Density grid points per edge.
    precision : {"auto", "float32", "bfloat16"}
        Arithmetic of the network's point queries (``auto``: bfloat16 only
        where the CPU computes it natively).
    """

    samples: int = 5
    seed: int = 0
    model: object = None
    grid: int = 50
    precision: str = "auto"


@dataclass
class DecodeSettings:
    """Decoding densities into structures.

    Attributes
    ----------
    symprec : sequence of float, optional
        Symmetry tolerances tried (default
        :data:`~diffpy.crystalnet.density.decode.DEFAULT_SYMPRECS`).
    """

    symprec: tuple = None


@dataclass
class ImproveSettings:
    """Improving densities against the data before decoding.

    Attributes
    ----------
    enabled : bool
        Also decode each density after Fourier recycling with the
        intensities of a Pawley extraction
        (:func:`~diffpy.crystalnet.solver.recycle.fourier_recycle`).
    """

    enabled: bool = True


@dataclass
class RankSettings:
    """Fitting the candidates to the profile and ranking them.

    Attributes
    ----------
    fit : bool
        Fit each candidate to the profile and rank by Rwp.
    dedupe : bool
        Merge candidates that are the same structure.
    fit_top : int
        Every decoded candidate gets a quick fit that ranks them (scales
        and background only, with the profile of the cell's Pawley
        extraction; without improvement, a few evaluations of the profile
        fit); the best ``fit_top`` distinct ones are fitted to convergence.
    """

    fit: bool = True
    dedupe: bool = True
    fit_top: int = 6


@dataclass
class IsotypeSettings:
    """Search-match against the shipped library of structure types.

    Attributes
    ----------
    enabled : bool
        Add the best-matching decorated prototypes (needs the
        composition).
    top : int
        Isotypic candidates kept.
    """

    enabled: bool = True
    top: int = 5


@dataclass
class AbinitioSettings:
    """Ab initio direct-space search when no candidate fits well.

    Attributes
    ----------
    mode : {"auto", "on", "off"}
        ``auto`` (default): search only when no candidate of the earlier
        steps reaches Rwp ``rwp_threshold``; ``on``: always; ``off``:
        never.  Needs the composition.
    budget : float
        Seconds of search in all (shared among the space groups tried,
        the most likely getting half).
    space_group : int, optional
        Search only this space group (International Tables number), in
        its standard setting on the given or indexed cell; default the
        most likely groups from the systematic absences.
    groups : int
        Space groups tried (most likely first).
    top : int
        Arrangements kept per space group (fitted and ranked with the
        others).
    rwp_threshold : float
        ``auto`` searches when the best Rwp is above this (fraction).
    """

    mode: str = "auto"
    budget: float = 60.0
    space_group: int = None
    groups: int = 3
    top: int = 2
    rwp_threshold: float = 0.15


@dataclass
class RefineSettings:
    """Rietveld refinement of the best candidates.

    Attributes
    ----------
    enabled : bool
        Refine the best candidates; a refinement is kept when it lowers
        Rwp.
    top : int
        How many of the best distinct candidates are refined.
    """

    enabled: bool = True
    top: int = 2


@dataclass
class OutputSettings:
    """The files the command line writes (:func:`write_outputs`).

    Attributes
    ----------
    out : pathlib.Path, optional
        Output folder (the command line's default: ``<pattern stem>-solve``).
    force : bool
        Replace an existing folder.
    densities : bool
        Write CHGCAR and cube files of the densities.
    keep : int
        Write CIF and density files for the best ``keep`` candidates
        (candidates.json lists all).
    """

    out: Path = None
    force: bool = False
    densities: bool = True
    keep: int = 10


#: flat option name -> (group, field): the names of the command line's
#: options and of the keyword arguments solve took before the settings
_OPTIONS = {
    "lattice": ("lattice", "lattice"),
    "centring": ("lattice", "centring"),
    "systems": ("lattice", "systems"),
    "lattice_solutions": ("lattice", "solutions"),
    "samples": ("sampling", "samples"),
    "seed": ("sampling", "seed"),
    "model": ("sampling", "model"),
    "n": ("sampling", "grid"),
    "precision": ("sampling", "precision"),
    "symprec": ("decode", "symprec"),
    "improve": ("improve", "enabled"),
    "fit": ("rank", "fit"),
    "dedupe": ("rank", "dedupe"),
    "fit_top": ("rank", "fit_top"),
    "isotypes": ("isotypes", "enabled"),
    "isotype_top": ("isotypes", "top"),
    "ab_initio": ("abinitio", "mode"),
    "ab_initio_budget": ("abinitio", "budget"),
    "space_group": ("abinitio", "space_group"),
    "ab_initio_groups": ("abinitio", "groups"),
    "ab_initio_top": ("abinitio", "top"),
    "refine": ("refine", "enabled"),
    "refine_top": ("refine", "top"),
    "out": ("output", "out"),
    "force": ("output", "force"),
    "densities": ("output", "densities"),
    "keep": ("output", "keep"),
}

#: counts that must be at least 1 (or 0): group, field, smallest value
_COUNTS = (
    ("lattice", "solutions", 1),
    ("sampling", "samples", 1),
    ("sampling", "grid", 2),
    ("rank", "fit_top", 0),
    ("isotypes", "top", 0),
    ("abinitio", "groups", 1),
    ("abinitio", "top", 1),
    ("refine", "top", 0),
    ("output", "keep", 1),
)


@dataclass
class SolveSettings:
    """All choices of a solve run, grouped by the step they steer.

    Attributes
    ----------
    lattice : LatticeSettings
    sampling : SamplingSettings
    decode : DecodeSettings
    improve : ImproveSettings
    rank : RankSettings
    isotypes : IsotypeSettings
    abinitio : AbinitioSettings
    refine : RefineSettings
    output : OutputSettings
    """

    lattice: LatticeSettings = field(default_factory=LatticeSettings)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    decode: DecodeSettings = field(default_factory=DecodeSettings)
    improve: ImproveSettings = field(default_factory=ImproveSettings)
    rank: RankSettings = field(default_factory=RankSettings)
    isotypes: IsotypeSettings = field(default_factory=IsotypeSettings)
    abinitio: AbinitioSettings = field(default_factory=AbinitioSettings)
    refine: RefineSettings = field(default_factory=RefineSettings)
    output: OutputSettings = field(default_factory=OutputSettings)

    @classmethod
    def from_options(cls, **options):
        """Settings from flat option names, as the command line has them.

        Parameters
        ----------
        **options
            Any of ``lattice``, ``centring``, ``systems``,
            ``lattice_solutions``, ``samples``, ``seed``, ``model``, ``n``
            (grid points per edge), ``precision``, ``symprec``, ``improve``,
            ``fit``, ``dedupe``, ``fit_top``, ``isotypes``, ``isotype_top``,
            ``ab_initio`` (auto, on, off), ``ab_initio_budget`` (seconds),
            ``space_group``, ``ab_initio_groups``, ``ab_initio_top``,
            ``refine``, ``refine_top``, ``out``, ``force``, ``densities``
            (write density files), ``keep``.

        Returns
        -------
        SolveSettings

        Raises
        ------
        CrystalNetInputError
            For an unknown option name or a count out of range.
        """
        settings = cls()
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise CrystalNetInputError(
                f"unknown solve option(s) {unknown}; use "
                f"{sorted(_OPTIONS)}",
                "settings",
            )
        for name, value in options.items():
            group, attr = _OPTIONS[name]
            setattr(getattr(settings, group), attr, value)
        return settings.validated()

    def validated(self):
        """Check the settings; return them.

        Returns
        -------
        SolveSettings
            ``self``.

        Raises
        ------
        CrystalNetInputError
            For a count out of range, an unknown precision or centring.
        """
        for group, attr, smallest in _COUNTS:
            value = getattr(getattr(self, group), attr)
            if isinstance(value, bool) or not isinstance(value, int):
                raise CrystalNetInputError(
                    f"must be an integer, not {value!r}", f"{group}.{attr}"
                )
            if value < smallest:
                raise CrystalNetInputError(
                    f"must be at least {smallest}", f"{group}.{attr}"
                )
        if self.sampling.precision not in ("auto", "float32", "bfloat16"):
            raise CrystalNetInputError(
                "must be 'auto', 'float32' or 'bfloat16'",
                "sampling.precision",
            )
        self._validate_abinitio()
        if self.lattice.centring not in (None, "P", "I", "F", "R"):
            raise CrystalNetInputError(
                "must be one of P, I, F, R", "lattice.centring"
            )
        return self

    def _validate_abinitio(self):
        ab = self.abinitio
        if ab.mode not in ("auto", "on", "off"):
            raise CrystalNetInputError(
                f"must be 'auto', 'on' or 'off', not {ab.mode!r}",
                "abinitio.mode",
            )
        try:
            budget = float(ab.budget)
        except (TypeError, ValueError):
            budget = float("nan")
        if not budget > 0 or budget == float("inf"):
            raise CrystalNetInputError(
                f"must be a positive number of seconds, not {ab.budget!r}",
                "abinitio.budget",
            )
        sg = ab.space_group
        if sg is not None and (
            isinstance(sg, bool)
            or not isinstance(sg, int)
            or not 1 <= sg <= 230
        ):
            raise CrystalNetInputError(
                f"must be a space group number 1-230, not {sg!r}",
                "abinitio.space_group",
            )

    def as_dict(self):
        """The settings as a nested dict of plain values (for reports).

        Returns
        -------
        dict
            Group -> field -> value; models, paths and lattices as text.
        """
        out = {}
        for group in fields(self):
            values = {}
            for f in fields(getattr(self, group.name)):
                value = getattr(getattr(self, group.name), f.name)
                if not isinstance(value, (bool, int, float, str, type(None))):
                    value = (
                        list(value) if isinstance(value, tuple) else str(value)
                    )
                values[f.name] = value
            out[group.name] = values
        return out
