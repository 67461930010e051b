"""Reading, writing and converting crystal structures.

pymatgen :class:`~pymatgen.core.Structure` is the structure type used inside
the package; :func:`to_diffpy` and :func:`from_diffpy` hand structures to and
from the diffpy world (:class:`diffpy.structure.Structure`, as used by
PDFgui, diffpy.srfit and diffpy.srreal) without loss: the lattice matrix,
fractional coordinates, species (with oxidation states), occupancies and
isotropic displacements (``Uiso``) survive a round trip.

The diffpy lattice is built from pymatgen's basis matrix
(``Lattice(base=matrix)``), not from the six lattice parameters, so Cartesian
coordinates agree between the two libraries (building a hexagonal cell from
a, b, c, alpha, beta, gamma puts it in another Cartesian orientation).

Only names common to diffpy.structure 3.3 and 3.4+ are used (``Structure``,
``Atom``, ``Lattice``).
"""

import re
import warnings
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats.pdcif import cif_syntax_problem

__all__ = [
    "as_pymatgen_structure",
    "from_diffpy",
    "read_structure",
    "structure_blocks",
    "to_diffpy",
    "write_cif",
]

#: site property holding isotropic displacement parameters (angstrom^2)
UISO = "Uiso"

#: Structure files larger than this (bytes) are refused without being read
#: (a CIF of a few thousand atoms is well under 10 MB).
MAX_STRUCTURE_BYTES = 200 * 1024 * 1024

_CIF_SUFFIXES = (".cif", ".mcif")
_CELL_TAGS = tuple(f"_cell_length_{k}" for k in "abc") + tuple(
    f"_cell_angle_{k}" for k in ("alpha", "beta", "gamma")
)
_SITE_TAGS = ("_atom_site_fract_x", "_atom_site_cartn_x")


def structure_blocks(cif):
    """Names of CIF data blocks that contain atom sites."""
    names = []
    for name, block in cif.data.items():
        tags = {key.lower() for key in block.data}
        if any(tag in tags for tag in _SITE_TAGS):
            names.append(name)
    return names


def _read_cif(path, block):
    from pymatgen.io.cif import CifFile, CifParser

    try:
        cif = CifFile.from_file(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise CrystalNetInputError(f"cannot read the file: {exc}", path)
    except Exception as exc:  # pymatgen raises many types on bad text
        raise CrystalNetInputError(
            f"not a readable CIF: {cif_syntax_problem(exc)}", path
        ) from None
    if not cif.data:
        raise CrystalNetInputError("no data blocks: empty or not a CIF", path)
    names = structure_blocks(cif)
    if block is not None:
        matches = [n for n in cif.data if n.lower() == str(block).lower()]
        if not matches:
            raise CrystalNetInputError(
                f"no data block {block!r}; blocks with a structure: "
                f"{names or 'none'}",
                path,
            )
        name = matches[0]
        if name not in names:
            raise CrystalNetInputError(
                f"data block {name!r} has no atom sites", path
            )
    else:
        if not names:
            raise CrystalNetInputError(
                "no crystal structure in the file (no _atom_site_fract_x "
                "loop in any data block)",
                path,
            )
        name = names[0]
        if len(names) > 1:
            warnings.warn(
                f"{path}: {len(names)} structures in the file "
                f"({', '.join(names)}); reading the first, {name!r}. "
                "Choose another with block=...",
                UserWarning,
                stacklevel=3,
            )
    text = str(cif.data[name])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser.from_str(text)
            structures = parser.parse_structures(
                primitive=False, on_error="ignore"
            )
        except Exception as exc:
            structures = []
            caught.append(warnings.WarningMessage(exc, None, "", 0))
    if not structures:
        reasons = (
            _cell_problem(cif.data[name])
            or "; ".join(sorted({str(w.message).strip() for w in caught}))
            or ("pymatgen found no structure")
        )
        raise CrystalNetInputError(
            f"cannot build a structure from data block {name!r}: {reasons}",
            path,
        )
    return structures[0]


def _cell_problem(block):
    """Why the cell of a CIF block has no volume, or None."""
    values = []
    for tag in _CELL_TAGS:
        text = re.sub(r"\(\d+\)$", "", str(block.data.get(tag, "")).strip())
        try:
            values.append(float(text))
        except ValueError:
            return None
    a, b, c = values[:3]
    ca, cb, cg = np.cos(np.radians(values[3:]))
    metric = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    if min(a, b, c) > 0 and metric > 1e-6:
        return None
    cell = " ".join(
        f"{tag.split('_')[-1]}={v:g}" for tag, v in zip(_CELL_TAGS, values)
    )
    return f"the cell {cell} has no volume"


def _read_other(path):
    from pymatgen.core import Structure

    try:
        if path.suffix.lower() in (".stru", ".rstr"):
            # PDFfit/PDFgui structure files, with Uiso
            from diffpy.structure import loadStructure

            return from_diffpy(loadStructure(str(path), fmt="pdffit"))
        if path.suffix.lower() == ".json":
            import json

            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if isinstance(data, list):
                if not data:
                    raise ValueError("the JSON list is empty")
                if len(data) > 1:
                    warnings.warn(
                        f"{path}: {len(data)} structures in the file; "
                        "reading the first",
                        UserWarning,
                        stacklevel=3,
                    )
                data = data[0]
            return Structure.from_dict(data)
        return Structure.from_file(path)
    except OSError as exc:
        raise CrystalNetInputError(f"cannot read the file: {exc}", path)
    except Exception as exc:
        raise CrystalNetInputError(
            f"not a structure file that can be read: "
            f"{type(exc).__name__}: {exc}",
            path,
        )


def read_structure(path, block=None):
    """Read a crystal structure from a CIF, POSCAR or pymatgen JSON file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.  ``.cif``/``.mcif`` are read with pymatgen's CifParser,
        ``.json`` as a pymatgen ``Structure.as_dict()`` (or a list of them:
        the first is read), PDFfit/PDFgui ``.stru`` with diffpy.structure
        (keeping Uiso), anything else (``POSCAR``, ``CONTCAR``, ``*.vasp``,
        ...) with ``pymatgen.core.Structure.from_file``.
    block : str, optional
        CIF only: the name of the data block to read (without ``data_``,
        case-insensitive).  By default the first block that has atom sites
        is read, with a warning when there are several (Rietveld CIFs
        often hold one block per phase plus a profile block).

    Returns
    -------
    pymatgen.core.Structure
        The structure in the cell of the file (conventional for CIFs).

    Raises
    ------
    CrystalNetInputError
        Missing, empty, oversized (:data:`MAX_STRUCTURE_BYTES`) or
        unreadable file, no structure in it, unknown ``block``, unknown
        elements, a cell without volume or with non-finite numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise CrystalNetInputError("no such file", path)
    size = path.stat().st_size
    if size == 0:
        raise CrystalNetInputError("the file is empty", path)
    if size > MAX_STRUCTURE_BYTES:
        raise CrystalNetInputError(
            f"the file is {size / 2**20:.0f} MB, over the "
            f"{MAX_STRUCTURE_BYTES / 2**20:.0f} MB limit for a structure "
            "file (is this the right file?)",
            path,
        )
    if path.suffix.lower() in _CIF_SUFFIXES:
        return _checked(_read_cif(path, block), path)
    if block is not None:
        raise CrystalNetInputError("block= is only used for CIF files", path)
    return _checked(_read_other(path), path)


def _checked(structure, path):
    """The structure, if its elements are real and its cell has volume."""
    from pymatgen.core import DummySpecies

    if len(structure) == 0:
        raise CrystalNetInputError("the structure has no atoms", path)
    unknown = sorted(
        {
            getattr(sp, "symbol", str(sp))
            for sp in structure.composition
            if isinstance(sp, DummySpecies)
        }
    )
    if unknown:
        raise CrystalNetInputError(
            f"unknown element(s) {', '.join(map(repr, unknown))}", path
        )
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not np.all(np.isfinite(matrix)) or not np.all(
        np.isfinite(structure.frac_coords)
    ):
        raise CrystalNetInputError(
            "the cell or the atom positions are not finite numbers", path
        )
    volume = abs(np.linalg.det(matrix))
    if volume < 1e-3:
        a, b, c = structure.lattice.abc
        alpha, beta, gamma = structure.lattice.angles
        raise CrystalNetInputError(
            f"the cell a={a:g} b={b:g} c={c:g} alpha={alpha:g} "
            f"beta={beta:g} gamma={gamma:g} has no volume",
            path,
        )
    return structure


def as_pymatgen_structure(structure, source="structure"):
    """Accept a pymatgen or diffpy structure; return a pymatgen one."""
    from pymatgen.core import IStructure, Structure

    if isinstance(structure, (Structure, IStructure)):
        return structure
    try:
        from diffpy.structure import Structure as DStructure
    except ImportError:  # pragma: no cover - diffpy.structure is required
        DStructure = ()
    if isinstance(structure, DStructure):
        return from_diffpy(structure)
    raise CrystalNetInputError(
        "expected a pymatgen or diffpy.structure Structure, got "
        f"{type(structure).__name__}",
        source,
    )


def write_cif(structure, path, symprec=None, force=False):
    """Write a structure to a CIF file, atomically.

    Parameters
    ----------
    structure : pymatgen.core.Structure or diffpy.structure.Structure
        The structure.
    path : str or os.PathLike
        The CIF to write.  Its folder must exist.
    symprec : float, optional
        When given, find the space group with this tolerance (angstrom) and
        write the symmetrised CIF (asymmetric unit and symmetry operations);
        otherwise write all atoms in P1.
    force : bool, optional
        Replace an existing file.  Without it an existing file is an error.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    CrystalNetInputError
        The file exists and ``force`` is false, the folder does not exist,
        or the structure cannot be written.
    """
    from pymatgen.io.cif import CifWriter

    path = Path(path)
    structure = as_pymatgen_structure(structure)
    if path.exists() and not force:
        raise CrystalNetInputError(
            "the file exists; pass force=True to replace it", path
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CrystalNetInputError("the folder does not exist", path)
    try:
        text = str(CifWriter(structure, symprec=symprec))
    except Exception as exc:
        raise CrystalNetInputError(
            f"cannot write the structure as CIF: {exc}", path
        )
    from diffpy.crystalnet.io.files import write_text

    return write_text(path, text, force=True)


def _species_name(species):
    """Element symbol with oxidation state (``"Fe2+"``) when there is one."""
    oxi = getattr(species, "oxi_state", None)
    if oxi:
        return str(species)
    return getattr(species, "symbol", str(species))


def to_diffpy(structure):
    """Convert a pymatgen Structure to a diffpy.structure Structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure.  A disordered site (several species, or an occupancy
        below one) becomes one diffpy atom per species at the same fractional
        position, with the species' occupancy.

    Returns
    -------
    diffpy.structure.Structure
        Lattice built from the basis matrix (``Lattice(base=matrix)``), so
        Cartesian coordinates are the same as pymatgen's; atoms with element
        (``"Fe"`` or ``"Fe2+"``), fractional xyz, occupancy, label and, when
        the site property ``"Uiso"`` is set, isotropic displacement.

    Raises
    ------
    CrystalNetInputError
        ``structure`` is not a pymatgen Structure.
    """
    from pymatgen.core import IStructure, Structure

    from diffpy.structure import Atom, Lattice
    from diffpy.structure import Structure as DStructure

    if not isinstance(structure, (Structure, IStructure)):
        raise CrystalNetInputError(
            f"expected a pymatgen Structure, got {type(structure).__name__}",
            "structure",
        )
    lattice = Lattice(base=np.array(structure.lattice.matrix, dtype=float))
    result = DStructure(lattice=lattice, title=structure.formula)
    uiso = structure.site_properties.get(UISO)
    for index, site in enumerate(structure):
        u = 0.0 if uiso is None or uiso[index] is None else uiso[index]
        species = list(site.species.items())
        ordered = len(species) == 1
        for sp, occupancy in species:
            name = _species_name(sp)
            label = site.label if ordered and site.label else None
            if not label or not re.fullmatch(r"[A-Za-z0-9_+\-']+", label):
                label = f"{getattr(sp, 'symbol', name)}{index + 1}"
            atom = Atom(
                atype=name,
                xyz=np.array(site.frac_coords, dtype=float),
                label=label,
                occupancy=float(occupancy),
                anisotropy=False,
                Uisoequiv=float(u),
            )
            result.append(atom)
    return result


def _element(name, source):
    from pymatgen.core import DummySpecies
    from pymatgen.core.periodic_table import get_el_sp

    text = str(name).strip()
    candidates = [text]
    match = re.match(r"([A-Z][a-z]?)(\d*[+-]|[+-]\d*)?", text)
    if match and match.group(0) != text:
        candidates.append(match.group(0))
    for candidate in candidates:
        try:
            sp = get_el_sp(candidate)
        except (ValueError, KeyError):
            continue
        if not isinstance(sp, DummySpecies):
            return sp
    raise CrystalNetInputError(f"unknown element {name!r}", source)


def from_diffpy(dstructure, tol=1e-8):
    """Convert a diffpy.structure Structure to a pymatgen Structure.

    Parameters
    ----------
    dstructure : diffpy.structure.Structure
        The structure.  Atoms at the same fractional position (within
        ``tol``) form one disordered pymatgen site whose species carry the
        atoms' occupancies.
    tol : float, optional
        Fractional-coordinate tolerance for merging atoms into one site.

    Returns
    -------
    pymatgen.core.Structure
        Lattice from ``dstructure.lattice.base``; site property ``"Uiso"``
        when any atom has a non-zero isotropic displacement; site labels
        from the atom labels of ordered sites.

    Raises
    ------
    CrystalNetInputError
        Not a diffpy Structure, unknown element, occupancies of one site
        summing to more than one.
    """
    from pymatgen.core import Lattice, Structure

    from diffpy.structure import Structure as DStructure

    source = "structure"
    if not isinstance(dstructure, DStructure):
        raise CrystalNetInputError(
            f"expected a diffpy.structure Structure, got "
            f"{type(dstructure).__name__}",
            source,
        )
    if len(dstructure) == 0:
        raise CrystalNetInputError("the structure has no atoms", source)
    sites = []  # [xyz, {species: occupancy}, label, uiso]
    for atom in dstructure:
        xyz = np.array(atom.xyz, dtype=float)
        sp = _element(atom.element, source)
        occ = float(atom.occupancy)
        u = float(atom.Uisoequiv)
        for site in sites:
            if np.all(np.abs(site[0] - xyz) <= tol):
                site[1][sp] = site[1].get(sp, 0.0) + occ
                site[2] = None
                break
        else:
            sites.append([xyz, {sp: occ}, atom.label or None, u])
    for site in sites:
        total = sum(site[1].values())
        if total > 1 + 1e-6:
            raise CrystalNetInputError(
                f"occupancies at {site[0].tolist()} sum to {total:g} > 1",
                source,
            )
    lattice = Lattice(np.array(dstructure.lattice.base, dtype=float))
    uiso = [site[3] for site in sites]
    properties = {UISO: uiso} if any(u != 0 for u in uiso) else None
    try:
        structure = Structure(
            lattice,
            [site[1] for site in sites],
            [site[0] for site in sites],
            site_properties=properties,
            labels=[site[2] for site in sites],
        )
    except ValueError as exc:
        raise CrystalNetInputError(str(exc), source) from None
    return structure
