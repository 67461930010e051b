"""Property tests: no input makes a loader raise anything but our error.

Every loader of user input (pattern files of each extension, structure
files, volumetric files, formulas, lattice text and cell parameters) is fed
random bytes, random text and text built from the pieces of its format
(numbers that overflow, NaN, headers, truncated records).  It may accept
the input or raise :class:`CrystalNetInputError`; any other exception
fails the test.

Examples per test: ``CRYSTALNET_FUZZ_EXAMPLES`` when set, else 1000 when
the ``CI`` environment variable is set (CI runs), else 100.
"""

import io
import os
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.index.lattice_text import (
    cell_from_parameters,
    parse_lattice,
)
from diffpy.crystalnet.io.patterns import load_pattern
from diffpy.crystalnet.io.structures import read_structure
from diffpy.crystalnet.io.volumetric import read_cube, read_xsf
from diffpy.crystalnet.physics.composition import (
    composition_vector,
    integer_formula,
)


def _examples():
    if os.environ.get("CRYSTALNET_FUZZ_EXAMPLES"):
        return int(os.environ["CRYSTALNET_FUZZ_EXAMPLES"])
    return 1000 if os.environ.get("CI") else 100


EXAMPLES = _examples()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PATTERN_EXTENSIONS = [
    ".xy",
    ".xye",
    ".dat",
    ".chi",
    ".xra",
    ".gsas",
    ".cif",
    ".txt",
    ".csv",
    ".raw",
    ".fxye",
    ".unknown",
    "",
]

# -- pieces of the formats --

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "1e999",
            "-1e999",
            "1e-999",
            "0",
            "-0",
            "1e400(3)",
            "12(" + "9" * 30 + ")",
            "3.2(4)",
            "?",
            ".",
            "1,5",
            "0x10",
            "1_000",
            "9" * 400,
        ]
    ),
)
WORDS = st.sampled_from(
    [
        "#",
        "!",
        "2theta",
        "2-Theta Angle (Degrees)",
        "Q (Angstroms-1)",
        "q_nm^-1",
        "2th_rad",
        "Radial distance (mm)",
        "d-spacing",
        "intensity",
        "wavelength =",
        "Wavelength:",
        "lambda",
        "Anode: Cu",
        "radiation = MoKa1",
        "BANK 1 5 1 CONST 1000 2 0 0 STD",
        "BANK 1 3 3 CONST 0 1 0 0 FXYE",
        "BANK 1 2 1 TIME_MAP 1 2 ALT",
        "BANK",
        "data_x",
        "data_",
        "loop_",
        "_pd_meas_2theta_scan",
        "_pd_meas_counts_total",
        "_pd_proc_intensity_net",
        "_pd_proc_d_spacing",
        "_pd_meas_2theta_range_min",
        "_pd_meas_2theta_range_max",
        "_pd_meas_2theta_range_inc",
        "_diffrn_radiation_wavelength",
        "_diffrn_radiation_probe neutron",
        "PDFgetX3",
        "'",
        '"',
        ";",
        ",",
        "\t",
        "é",
        "Å",
        "\x00",
    ]
)
#: mostly plausible numbers, sometimes a weird one
PLAUSIBLE = st.integers(0, 2).flatmap(
    lambda k: (
        NUMBERS
        if k == 0
        else st.one_of(
            st.integers(0, 120).map(str),
            st.floats(0, 120).map("{:.4g}".format),
        )
    )
)
LINES = st.lists(st.one_of(NUMBERS, WORDS), max_size=8).map(" ".join)
PATTERN_TEXT = st.lists(LINES, max_size=40).map("\n".join)


def _columns(rows):
    return "\n".join(" ".join(row) for row in rows)


COLUMN_TEXT = st.builds(
    lambda header, rows: header + "\n" + _columns(rows),
    st.lists(WORDS, max_size=3).map(" ".join),
    st.lists(st.lists(PLAUSIBLE, min_size=1, max_size=4), max_size=60),
)


SSE_TEXT = st.builds(
    lambda first, rows: first + "\n" + _columns(rows),
    st.lists(PLAUSIBLE, min_size=3, max_size=3).map(" ".join),
    st.lists(st.lists(PLAUSIBLE, min_size=1, max_size=2), max_size=12),
)
GSAS_TEXT = st.builds(
    lambda count, words, rows: f"title\nBANK 1 {count} {words}\n"
    + _columns(rows),
    st.one_of(st.integers(-2, 12).map(str), NUMBERS),
    st.lists(
        st.one_of(
            PLAUSIBLE,
            st.sampled_from(
                ["CONST", "LOG", "TIME_MAP", "STD", "ESD", "ALT", "FXY"]
            ),
        ),
        max_size=7,
    ).map(" ".join),
    st.lists(st.lists(PLAUSIBLE, min_size=1, max_size=5), max_size=8),
)
PDCIF_TEXT = st.builds(
    lambda head, tags, values, cut: (
        "data_p\n"
        + head
        + "\nloop_\n"
        + "\n".join(tags)
        + "\n"
        + " ".join(values)
    )[: 10**6 if cut is None else cut],
    st.lists(
        st.tuples(WORDS, PLAUSIBLE).map(" ".join),
        max_size=4,
    ).map("\n".join),
    st.lists(
        st.sampled_from(
            [
                "_pd_meas_2theta_scan",
                "_pd_proc_2theta_corrected",
                "_pd_meas_counts_total",
                "_pd_proc_intensity_total",
                "_pd_proc_d_spacing",
                "_pd_meas_time_of_flight",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(PLAUSIBLE, max_size=24),
    st.one_of(st.none(), st.integers(0, 200)),
)


@st.composite
def near_valid_scans(draw):
    """A 2-theta scan and the text of one format holding it: mostly
    valid patterns (flat, peaked, spiky, huge or tiny counts) with now and
    then one bad value, so that loading succeeds and what follows it
    (validation, model input, peak search) is exercised too."""
    n = draw(st.integers(1, 400))
    start = draw(st.floats(0, 179))
    step = draw(st.floats(1e-4, 2))
    x = start + step * np.arange(n)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = draw(st.sampled_from(["flat", "peaks", "spike", "noise", "wild"]))
    y = np.full(n, draw(st.sampled_from([0.0, 1.0, 100.0, 1e-300, 1e300])))
    if shape == "peaks":
        for centre in rng.uniform(x[0], x[-1] + step, 4):
            y = y + rng.uniform(1, 1e5) * np.exp(-((x - centre) ** 2) / 0.01)
    elif shape == "spike":
        y[rng.integers(n)] += 1e4
    elif shape == "noise":
        y = y + rng.poisson(50, n)
    elif shape == "wild":
        y = y + 10.0 ** rng.uniform(-300, 300, n) * rng.choice([-1, 1], n)
    defect = draw(
        st.sampled_from([None] * 6 + ["nan", "inf", "neg", "dup", "swap"])
    )
    k = rng.integers(n)
    if defect in ("nan", "inf", "neg"):
        y[k] = {"nan": np.nan, "inf": np.inf, "neg": -1e6}[defect]
    elif defect == "dup" and n > 1:
        x[k] = x[k - 1]
    elif defect == "swap" and n > 2:
        x[[0, -1]] = x[[-1, 0]]
    fmt = draw(st.sampled_from(["xy", "xye", "sse", "pdcif", "fxye"]))
    x, y = x.tolist(), y.tolist()  # repr: '1.5', not 'np.float64(1.5)'
    rows = [f"{a!r} {b!r}" for a, b in zip(x, y)]
    if fmt == "xye":
        rows = [f"{r} {abs(b) ** 0.5!r}" for r, b in zip(rows, y)]
    if fmt == "sse":
        text = f"{x[0]!r} {step!r} {x[-1]!r}\n" + "\n".join(map(repr, y))
        return text, ".dat"
    if fmt == "pdcif":
        head = "data_p\nloop_\n_pd_meas_2theta_scan\n_pd_meas_counts_total\n"
        return head + "\n".join(rows), ".cif"
    if fmt == "fxye":
        body = "\n".join(f"{100 * a!r} {b!r} 1.0" for a, b in zip(x, y))
        head = f"title\nBANK 1 {n} {n} CONST 0 0 0 0 FXYE\n"
        return head + body, ".gsas"
    return "# 2theta intensity\n" + "\n".join(rows), "." + fmt


def _load(data, ext):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz" + ext)
        with open(path, "wb") as stream:
            stream.write(data)
        try:
            load_pattern(path)
        except CrystalNetInputError as error:
            assert error.source == path, str(error)
            assert "\n" not in str(error), str(error)


@FUZZ
@given(data=st.binary(max_size=600), ext=st.sampled_from(PATTERN_EXTENSIONS))
def test_pattern_loader_random_bytes(data, ext):
    _load(data, ext)


@FUZZ
@given(
    text=st.one_of(PATTERN_TEXT, st.text(max_size=400)),
    ext=st.sampled_from(PATTERN_EXTENSIONS),
    encoding=st.sampled_from(["utf-8", "latin-1"]),
)
def test_pattern_loader_random_text(text, ext, encoding):
    _load(text.encode(encoding, "replace"), ext)


@FUZZ
@given(
    text=COLUMN_TEXT,
    ext=st.sampled_from([".xy", ".xye", ".dat", ".chi", ".csv", ".txt"]),
)
def test_pattern_loader_columns(text, ext):
    _load(text.encode("utf-8"), ext)


@FUZZ
@given(text=SSE_TEXT, ext=st.sampled_from([".dat", ".xy", ".raw"]))
def test_pattern_loader_start_step_end(text, ext):
    _load(text.encode("utf-8"), ext)


@FUZZ
@given(text=GSAS_TEXT, ext=st.sampled_from([".gsas", ".xra", ".fxye", ".dat"]))
def test_pattern_loader_gsas(text, ext):
    _load(text.encode("utf-8"), ext)


@FUZZ
@given(text=PDCIF_TEXT, ext=st.sampled_from([".cif", ".txt"]))
def test_pattern_loader_pdcif(text, ext):
    _load(text.encode("utf-8"), ext)


@FUZZ
@given(scan=near_valid_scans(), wavelength=st.sampled_from([None, 0.2, 2.3]))
def test_pattern_loader_near_valid_scans(scan, wavelength):
    text, ext = scan
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz" + ext)
        Path(path).write_text(text, encoding="utf-8")
        try:
            pattern = load_pattern(path, wavelength=wavelength)
            if wavelength is not None:
                pattern.to_model_input()
        except CrystalNetInputError as error:
            assert error.source == path, str(error)


@FUZZ
@given(
    scan=near_valid_scans(),
    wavelength=st.sampled_from([[], ["-w", "CuKa1"], ["-w", "0.2"]]),
)
def test_inspect_command(scan, wavelength):
    """Files that load must also go through ``inspect`` (model input, peak
    search): exit 0, or 2 with one line, never an exception."""
    text, ext = scan
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzz" + ext)
        Path(path).write_text(text, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["inspect", path, *wavelength])
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert err.getvalue().startswith(f"Error: {path}: ")
        assert len(err.getvalue().splitlines()) == 1


# -- structures --

SYMBOLS = st.sampled_from(
    ["Na", "Cl", "O", "Xx", "D", "Fe2+", "Q", "", "1", "?", "Og", "Uuo"]
)
CIF_TAGS = [
    "_cell_length_a",
    "_cell_length_b",
    "_cell_length_c",
    "_cell_angle_alpha",
    "_cell_angle_beta",
    "_cell_angle_gamma",
]
SITES = st.lists(
    st.tuples(SYMBOLS, PLAUSIBLE, PLAUSIBLE, PLAUSIBLE, PLAUSIBLE), max_size=5
)


def _cif(cell, group, sites, cut):
    lines = ["data_fuzz"]
    lines += [f"{tag} {value}" for tag, value in zip(CIF_TAGS, cell)]
    lines.append(f"_symmetry_space_group_name_H-M '{group}'")
    lines += [
        "loop_",
        "_atom_site_label",
        "_atom_site_type_symbol",
        "_atom_site_fract_x",
        "_atom_site_fract_y",
        "_atom_site_fract_z",
        "_atom_site_occupancy",
    ]
    for k, (symbol, x, y, z, occ) in enumerate(sites):
        lines.append(f"{symbol or 'X'}{k} {symbol or '.'} {x} {y} {z} {occ}")
    text = "\n".join(lines) + "\n"
    return text[: max(0, len(text) - cut)]


CIF_TEXT = st.builds(
    _cif,
    st.lists(PLAUSIBLE, min_size=6, max_size=6),
    st.sampled_from(["P 1", "F m -3 m", "P 63/m m c", "Q 9", ""]),
    SITES,
    st.integers(0, 60),
)
GOOD_CELL = st.lists(
    st.sampled_from(["5.64", "4.1", "90", "120", "60", "0", "1e999"]),
    min_size=6,
    max_size=6,
)


def _read(data, name):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as stream:
            stream.write(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                read_structure(path)
            except CrystalNetInputError as error:
                assert error.source == path, str(error)


@FUZZ
@given(
    text=st.one_of(
        CIF_TEXT,
        st.builds(
            _cif,
            GOOD_CELL,
            st.just("P 1"),
            SITES,
            st.integers(0, 5),
        ),
    )
)
def test_structure_loader_cif_like_text(text):
    _read(text.encode("utf-8"), "fuzz.cif")


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=400),
        PATTERN_TEXT.map(lambda t: t.encode("utf-8")),
    ),
    name=st.sampled_from(["fuzz.cif", "POSCAR", "fuzz.json", "fuzz.vasp"]),
)
def test_structure_loader_random_input(data, name):
    _read(data, name)


# -- volumetric files --

CUBE_TEXT = st.builds(
    lambda natoms, rows, body: "title\ncomment\n"
    + f"{natoms} 0 0 0\n"
    + _columns(rows)
    + "\n"
    + body,
    st.one_of(st.integers(-3, 3).map(str), NUMBERS),
    st.lists(st.lists(PLAUSIBLE, min_size=0, max_size=5), max_size=8),
    PATTERN_TEXT,
)
XSF_TEXT = st.builds(
    lambda blocks: "\n".join(blocks),
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "CRYSTAL",
                    "PRIMVEC",
                    "PRIMCOORD",
                    "BEGIN_BLOCK_DATAGRID_3D",
                    "BEGIN_DATAGRID_3D_x",
                    "END_DATAGRID_3D",
                    "1 1",
                    "2 2 2",
                    "5 0 0",
                    "0 5 0",
                    "0 0 5",
                    "11 0 0 0",
                    "Xx 0 0 0",
                ]
            ),
            LINES,
        ),
        max_size=30,
    ),
)


@FUZZ
@given(text=st.one_of(CUBE_TEXT, XSF_TEXT, st.text(max_size=300)))
def test_volumetric_loaders(text):
    with tempfile.TemporaryDirectory() as folder:
        for name, reader in (("f.cube", read_cube), ("f.xsf", read_xsf)):
            path = Path(folder) / name
            path.write_text(text, encoding="utf-8", errors="replace")
            try:
                reader(path)
            except CrystalNetInputError as error:
                assert error.source == str(path), str(error)


# -- formulas, lattice text, cell parameters --

FORMULA = st.lists(
    st.one_of(
        SYMBOLS,
        NUMBERS,
        st.sampled_from(["(", ")", "[", "]", "+", "-", "2+", "3-", " ", "."]),
    ),
    max_size=8,
).map("".join)


@FUZZ
@given(text=st.one_of(FORMULA, st.text(max_size=40)))
def test_formula_parser(text):
    for parse in (composition_vector, integer_formula):
        try:
            parse(text)
        except CrystalNetInputError:
            pass


LATTICE_TEXT = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "alpha", "beta", "gamma", "x", ""]),
        st.sampled_from(["=", ":", " ", "=="]),
        NUMBERS,
        st.sampled_from([",", ";", " ", ", ", ""]),
    ),
    max_size=7,
).map(lambda parts: "".join("".join(p) for p in parts))


@FUZZ
@given(text=st.one_of(LATTICE_TEXT, st.text(max_size=60)))
def test_lattice_text_parser(text):
    try:
        parse_lattice(text)
    except CrystalNetInputError as error:
        assert error.source == "--lattice"


@FUZZ
@given(
    values=st.lists(
        st.one_of(st.floats(), NUMBERS, st.none()), min_size=6, max_size=6
    )
)
def test_cell_parameters(values):
    try:
        cell_from_parameters(*values)
    except CrystalNetInputError as error:
        assert error.source == "cell"
