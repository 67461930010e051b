"""The bad-input corpus: files and arguments every loader must refuse.

Each :class:`Case` writes its file into a folder (tests pass ``tmp_path``)
or returns its argument text, and says which loader it is for and which
words the problem must contain.  Nothing is read from outside the
repository and nothing large is written: the "gigabyte" files are sparse.

Loaders (``Case.kind``):

``pattern``
    :func:`~diffpy.crystalnet.io.patterns.load_pattern`; on the command
    line ``inspect``, ``index`` and ``solve``.
``structure``
    :func:`~diffpy.crystalnet.io.structures.read_structure`.
``volumetric``
    :func:`~diffpy.crystalnet.io.volumetric.read_cube` (``.cube``) and
    :func:`~diffpy.crystalnet.io.volumetric.read_xsf` (``.xsf``).
``formula``
    :func:`~diffpy.crystalnet.physics.composition.integer_formula` (which
    parses with ``parse_formula``); ``solve --composition``.
``lattice``
    :func:`~diffpy.crystalnet.index.lattice_text.parse_lattice`;
    ``solve --lattice``.
``cell``
    :func:`~diffpy.crystalnet.index.lattice_text.cell_from_parameters`;
    ``solve --cell``.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

GIGABYTE = 2**30

NACL_CIF = """data_NaCl
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""

PDCIF_HEAD = """data_profile
_diffrn_radiation_wavelength 1.5406
"""


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    name : str
        Test id.
    kind : str
        The loader: pattern, structure, formula, lattice or cell.
    make : callable
        ``make(folder)``: for files, writes the file and returns its path;
        for arguments, returns the text (or the six cell numbers).
    problem : str
        Words the error's problem must contain.
    needs_wavelength : bool
        The pattern loads (a 2-theta file may lack a wavelength) and the
        error comes when Q is needed: ``pattern.q``, ``index``, ``solve``.
    """

    name: str
    kind: str
    make: Callable
    problem: str
    needs_wavelength: bool = False


def scan(n=400):
    """x (2-theta) and intensity of a small pattern with three peaks."""
    x = np.linspace(10.0, 80.0, n)
    y = 50.0 + sum(
        1000.0 * np.exp(-((x - c) ** 2) / 0.02) for c in (28.4, 47.3, 56.1)
    )
    return x, y


def columns(x, y):
    """Rows ``x y`` as text."""
    return "".join(f"{a:.6g} {b:.6g}\n" for a, b in zip(x, y))


def _file(name, content):
    def make(folder):
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return make


def _sparse(name, size=GIGABYTE):
    def make(folder):
        path = folder / name
        with open(path, "wb") as stream:
            stream.seek(size - 1)
            stream.write(b"\0")  # no disk used, nothing to read
        return path

    return make


def _pattern_columns(edit):
    x, y = scan()
    x, y = edit(x.copy(), y.copy())
    return columns(x, y)


def _with(index, value):
    def edit(x, y):
        y[index] = value
        return x, y

    return edit


def _garbage():
    rng = np.random.default_rng(19)
    data = bytearray(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    data[::50] = b"\0" * len(data[::50])
    return bytes(data)


def _pdcif_truncated():
    x, y = scan(20)
    rows = "".join(f"{a:.4f} {b:.1f}\n" for a, b in zip(x, y))
    text = PDCIF_HEAD + "loop_\n_pd_meas_2theta_scan\n_pd_meas_counts_total\n"
    return text + rows[: len(rows) // 2 - 4]  # cut inside a row


def _gsas_std_log():
    return (
        "GSAS standard data, logarithmic binning\n"
        "BANK 1 5 1 LOG 1000 2 0 0 STD\n"
        "      10      20      30      40      50\n"
    )


PATTERN_CASES = [
    Case("empty", "pattern", _file("empty.xy", ""), "the file is empty"),
    Case("binary", "pattern", _file("garbage.xy", _garbage()), "binary"),
    Case(
        "nan",
        "pattern",
        _file("nan.xy", _pattern_columns(_with(7, np.nan))),
        "NaN",
    ),
    Case(
        "inf",
        "pattern",
        _file("inf.xy", _pattern_columns(_with(7, np.inf))),
        "NaN or infinite",
    ),
    Case(
        "one column",
        "pattern",
        _file("one.xy", "".join(f"{v:g}\n" for v in scan()[1])),
        "one numeric column",
    ),
    Case(
        "non-monotonic x",
        "pattern",
        _file("shuffled.xy", _pattern_columns(lambda x, y: (x[::-1], y))),
        "not strictly increasing",
    ),
    Case(
        "duplicated x",
        "pattern",
        _file(
            "duplicated.xy",
            _pattern_columns(lambda x, y: (np.r_[x[:50], x[49:-1]], y)),
        ),
        "not strictly increasing",
    ),
    Case(
        "negative intensities",
        "pattern",
        _file("negative.xy", _pattern_columns(lambda x, y: (x, 100 - y))),
        "negative intensities",
    ),
    Case(
        "all zero",
        "pattern",
        _file("zero.xy", _pattern_columns(lambda x, y: (x, 0 * y))),
        "all intensities are zero",
    ),
    Case(
        "no wavelength",
        "pattern",
        _file("nowl.xy", "# 2theta intensity\n" + columns(*scan())),
        "wavelength",
        needs_wavelength=True,
    ),
    Case(
        "wavelength out of range",
        "pattern",
        _file("badwl.xy", "# wavelength = 12 nm\n" + columns(*scan())),
        "outside the X-ray range",
    ),
    Case("gigabyte", "pattern", _sparse("huge.xy"), "MB limit"),
    Case(
        "truncated pdCIF",
        "pattern",
        _file("truncated.cif", _pdcif_truncated()),
        "cannot parse the CIF",
    ),
    Case(
        "pdCIF loop without names",
        "pattern",
        _file("noloop.cif", PDCIF_HEAD + "loop_\n"),
        "loop_ has no data names",
    ),
    Case(
        "pdCIF number overflows",
        "pattern",
        _file(
            "overflow.cif",
            PDCIF_HEAD + "loop_\n_pd_meas_2theta_scan\n_pd_meas_counts_total\n"
            "10 1e400(3)\n11 2\n12 3\n",
        ),
        "unreadable number '1e400(3)'",
    ),
    Case(
        "pdCIF range not a number",
        "pattern",
        _file(
            "range.cif",
            PDCIF_HEAD + "_pd_meas_2theta_range_min ten\n"
            "_pd_meas_2theta_range_max 20\n_pd_meas_2theta_range_inc 1\n"
            "loop_\n_pd_meas_counts_total\n1\n2\n3\n",
        ),
        "unreadable number 'ten'",
    ),
    Case(
        "structure CIF as pattern",
        "pattern",
        _file("nacl.cif", NACL_CIF),
        "no powder profile",
    ),
    Case(
        "CIF named .xy",
        "pattern",
        _file("nacl.xy", NACL_CIF),
        "no powder profile",
    ),
    Case(
        ".xy named .cif",
        "pattern",
        _file("scan.cif", columns(*scan())),
        "is the extension right",
    ),
    Case(
        "start step end not finite",
        "pattern",
        _file("sse.dat", "-inf 0.5 20\n" + "1\n" * 40),
        "not a usable 'start step end'",
    ),
    Case(
        "start step end step underflows",
        "pattern",
        _file("tiny.dat", "0 2.2250738585072014e-308 40\n" + "1\n" * 40),
        "not a usable 'start step end'",
    ),
    Case(
        "GSAS STD without CONST binning",
        "pattern",
        _file("log.gsas", _gsas_std_log()),
        "needs CONST binning, got 'LOG'",
    ),
    Case(
        "GSAS time of flight",
        "pattern",
        _file("tof.gsas", "TOF\nBANK 1 3 1 TIME_MAP 1 2 ALT\n1 2 3\n"),
        "time-of-flight",
    ),
    Case(
        "neutron pdCIF",
        "pattern",
        _file(
            "neutron.cif",
            "data_n\n_diffrn_radiation_probe neutron\nloop_\n"
            "_pd_meas_2theta_scan\n_pd_meas_counts_total\n10 1\n11 2\n12 3\n",
        ),
        "neutron",
    ),
    Case(
        "structure function S(Q)",
        "pattern",
        _file("nacl.sq", columns(*scan())),
        "pair distribution function",
    ),
    Case(
        "Bruker RAW binary",
        "pattern",
        _file("scan.raw", b"RAW1.01\0\0\0" + bytes(range(256)) * 4),
        "Bruker RAW",
    ),
    Case(
        "words only",
        "pattern",
        _file("words.xy", "no numbers in here\n" * 10),
        "no numeric data",
    ),
    Case(
        "unknown extension",
        "pattern",
        _file("notes.docx", "meeting notes\n" * 10),
        "unknown format '.docx'",
    ),
    Case(
        "x beyond 180 degrees",
        "pattern",
        _file("wide.xy", _pattern_columns(lambda x, y: (x * 3, y))),
        "beyond 180 degrees",
    ),
    Case("missing", "pattern", lambda folder: folder / "absent.xy", "no such"),
]

STRUCTURE_CASES = [
    Case("empty CIF", "structure", _file("empty.cif", ""), "empty"),
    Case(
        "binary CIF",
        "structure",
        _file("garbage.cif", _garbage()),
        "no data blocks",
    ),
    Case(
        "truncated CIF",
        "structure",
        _file("truncated.cif", NACL_CIF[:-12]),
        "not a readable CIF",
    ),
    Case(
        "unknown element",
        "structure",
        _file("xx.cif", NACL_CIF.replace("Cl1 Cl", "Xx1 Xx")),
        "unknown element(s) 'Xx'",
    ),
    Case(
        "zero angle",
        "structure",
        _file(
            "flat.cif",
            NACL_CIF.replace("_cell_angle_gamma 90", "_cell_angle_gamma 0"),
        ),
        "has no volume",
    ),
    Case(
        "coplanar axes",
        "structure",
        _file(
            "coplanar.cif",
            NACL_CIF.replace("alpha 90", "alpha 60")
            .replace("beta 90", "beta 60")
            .replace("gamma 90", "gamma 120")
            .replace("F m -3 m", "P 1"),
        ),
        "has no volume",
    ),
    Case(
        "zero length",
        "structure",
        _file(
            "zerolength.cif",
            NACL_CIF.replace("_cell_length_a 5.64", "_cell_length_a 0"),
        ),
        "has no volume",
    ),
    Case(
        "NaN length",
        "structure",
        _file(
            "nanlength.cif",
            NACL_CIF.replace("_cell_length_a 5.64", "_cell_length_a nan"),
        ),
        "not finite",
    ),
    Case(
        ".xy named .cif",
        "structure",
        _file("scan.cif", columns(*scan(20))),
        "no data blocks",
    ),
    Case("gigabyte CIF", "structure", _sparse("huge.cif"), "MB limit"),
    Case(
        "bad JSON",
        "structure",
        _file("nacl.json", '{"lattice": '),
        "not a structure file",
    ),
    Case(
        "missing",
        "structure",
        lambda folder: folder / "absent.cif",
        "no such file",
    ),
]


XSF_2D_GRID = """CRYSTAL
PRIMVEC
5 0 0
0 5 0
0 0 5
PRIMCOORD
1 1
11 0 0 0
BEGIN_BLOCK_DATAGRID_3D
BEGIN_DATAGRID_3D_x
2 2
0 0 0
5 0 0
0 5 0
0 0 5
1 2 3 4
END_DATAGRID_3D
END_BLOCK_DATAGRID_3D
"""

VOLUMETRIC_CASES = [
    Case(
        "cube without grid points",
        "volumetric",
        _file("empty.cube", "title\ncomment\n0 0 0 0\n" + "0 1 0 0\n" * 3),
        "fewer than 2 points",
    ),
    Case(
        "cube cell without volume",
        "volumetric",
        _file(
            "flat.cube",
            "title\ncomment\n1 0 0 0\n2 1 0 0\n2 1 0 0\n2 0 0 1\n"
            "11 0 0 0 0\n" + "1 2 3 4 5 6 7 8\n",
        ),
        "has no volume",
    ),
    Case(
        "XSF grid not 3D",
        "volumetric",
        _file("flat.xsf", XSF_2D_GRID),
        "is not 3D",
    ),
]


def _text(value):
    return lambda folder: value


def _arguments(kind, table):
    return [
        Case(name, kind, _text(value), problem)
        for name, value, problem in table
    ]


FORMULA_CASES = _arguments(
    "formula",
    [
        ("unknown element", "Xx2O3", "not a chemical"),
        ("zero amount", "Na0", "no atoms"),
        ("zero amounts", "Na0Cl0", "no atoms"),
        ("empty", "", "empty"),
        ("blank", "   ", "empty"),
        ("unbalanced", "Na(Cl", "cannot read"),
        ("leading number", "-1Na", "cannot read"),
        ("infinite amount", "Na1e999", "finite"),
        ("no ratio", "Na0.1234567Cl", "integer ratio"),
    ],
)
LATTICE_CASES = _arguments(
    "lattice",
    [
        ("coplanar", "a=5,b=5,c=5,alpha=60,beta=60,gamma=120", "no volume"),
        ("zero length", "a=0", "outside 0.5-200"),
        ("zero angle", "a=5,b=6,c=7,alpha=0,beta=90,gamma=90", "(0, 180)"),
        ("straight", "a=5,b=6,c=7,alpha=90,beta=180,gamma=90", "(0, 180)"),
        ("nonsense", "cubic please", "cannot read"),
        ("NaN", "a=nan", "a is nan"),
        ("incomplete", "a=5,alpha=90", "cannot build"),
    ],
)
CELL_CASES = _arguments(
    "cell",
    [
        ("coplanar", ("5", "5", "5", "60", "60", "120"), "no volume"),
        ("zero length", ("0", "5", "5", "90", "90", "90"), "outside 0.5-200"),
    ],
)

CASES = (
    PATTERN_CASES
    + STRUCTURE_CASES
    + VOLUMETRIC_CASES
    + FORMULA_CASES
    + LATTICE_CASES
    + CELL_CASES
)
