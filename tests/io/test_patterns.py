"""Pattern validation, load_pattern and bad input (files built here)."""

import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffpy.crystalnet import CrystalNetInputError, load_pattern
from diffpy.crystalnet.io.formats import MAX_FILE_BYTES
from diffpy.crystalnet.physics.pattern import Pattern
from diffpy.crystalnet.physics.transforms import q_to_two_theta, two_theta_to_q


def write(path, text):
    path.write_text(text)
    return path


def profile_text(n=50, header=""):
    x = np.linspace(10, 80, n)
    y = 100 + 1000 * np.exp(-((x - 40) ** 2) / 0.1)
    rows = "\n".join(f"{a:.4f} {b:.3f}" for a, b in zip(x, y))
    return header + rows + "\n"


# -- Pattern --


def test_q_two_theta_round_trip():
    tth = np.array([5.0, 30.0, 90.0, 150.0])
    q = two_theta_to_q(tth, 1.5406)
    assert np.allclose(q_to_two_theta(q, 1.5406), tth)
    assert np.isnan(q_to_two_theta([20.0], 1.5406)[0])  # beyond 4 pi/lambda


def test_messages_print_plain_numbers():
    x = np.array([10.0, 11.0, 10.5, 12.0])
    with pytest.raises(CrystalNetInputError) as info:
        Pattern(x, np.ones(4), source="a.xy")
    message = str(info.value)
    assert "np.float64" not in message
    assert message.startswith("a.xy: ") and "11 then 10.5" in message


def test_two_theta_without_wavelength_needs_one_for_q():
    pattern = Pattern(np.linspace(10, 80, 10), np.ones(10), source="s.xy")
    with pytest.raises(CrystalNetInputError, match="s.xy: .*wavelength"):
        pattern.q
    with pytest.raises(CrystalNetInputError, match="wavelength"):
        pattern.to_model_input()


# -- load_pattern --


def test_header_wavelength_and_override(tmp_path):
    path = write(
        tmp_path / "a.xy", profile_text(header="# wavelength = 0.7107\n")
    )
    pattern = load_pattern(path)
    assert pattern.wavelength == pytest.approx(0.7107)
    assert "header" in pattern.metadata["wavelength_origin"]
    assert pattern.source == str(path)
    assert pattern.metadata["format"] == "columns"
    override = load_pattern(path, wavelength="CuKa1")
    assert override.wavelength == pytest.approx(1.54056)
    assert override.metadata["wavelength_origin"] == "argument"
    assert override.metadata["file_wavelength"] == pytest.approx(0.7107)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("# Wavelength: 1.5406 A\n", 1.5406),
        ("lambda 0.1665\n", 0.1665),
        ("# Wavelength: 1.0332e-11 m\n", 0.10332),
        ("wavelength = 0.07107 nm\n", 0.7107),
        ('Id: "" Anode: "Mo" Scantype: "2Theta"\n', 0.71073),
        ("radiation = CuKa1\n", 1.54056),
    ],
)
def test_wavelength_header_spellings(tmp_path, header, expected):
    pattern = load_pattern(
        write(tmp_path / "b.xy", profile_text(header=header))
    )
    assert pattern.wavelength == pytest.approx(expected)


def test_no_wavelength_loads_but_never_defaults(tmp_path):
    pattern = load_pattern(write(tmp_path / "c.xy", profile_text()))
    assert pattern.wavelength is None
    assert pattern.metadata["wavelength_origin"] is None
    with pytest.raises(CrystalNetInputError, match="c.xy: .*wavelength"):
        pattern.q_range


def test_xtype_override_for_headerless_q(tmp_path):
    path = write(tmp_path / "d.dat", profile_text().replace("10.0000", "1.0"))
    x = np.loadtxt(path)[:, 0] / 10.0
    np.savetxt(path, np.c_[x, np.ones_like(x)])
    pattern = load_pattern(path, xtype="q")
    assert pattern.xtype == "q" and pattern.metadata["xtype_origin"] == (
        "argument"
    )
    assert pattern.q_range == pytest.approx((x[0], x[-1]))


def test_x_beyond_180_suggests_q(tmp_path):
    x = np.linspace(100, 250, 20)
    np.savetxt(tmp_path / "e.xy", np.c_[x, np.ones_like(x)])
    with pytest.raises(CrystalNetInputError, match="xtype='q'"):
        load_pattern(tmp_path / "e.xy")


def test_invalid_xtype_argument(tmp_path):
    with pytest.raises(CrystalNetInputError, match="xtype"):
        load_pattern(write(tmp_path / "f.xy", profile_text()), xtype="d")


# -- bad input: each names the file and the problem --


def _bad_cases(tmp_path):
    x = np.linspace(10, 80, 20)
    cases = {}
    cases["empty"] = (write(tmp_path / "empty.xy", ""), "empty")
    cases["garbage"] = (tmp_path / "garbage.xy", "binary")
    cases["garbage"][0].write_bytes(bytes(range(256)) * 8)
    cases["one column"] = (
        write(tmp_path / "one.xy", "\n".join(map(str, x))),
        "one numeric column",
    )
    y = np.linspace(1, 100, 20)
    for name, bad in (("nan", np.nan), ("inf", np.inf)):
        values = y.copy()
        values[5] = bad
        np.savetxt(tmp_path / f"{name}.xy", np.c_[x, values])
    cases["nan"] = (tmp_path / "nan.xy", "NaN")
    cases["inf"] = (tmp_path / "inf.xy", "NaN or infinite")
    unsorted = np.c_[x[::-1], np.ones_like(x)]
    np.savetxt(tmp_path / "desc.xy", unsorted)
    cases["non-monotonic"] = (tmp_path / "desc.xy", "not strictly increasing")
    np.savetxt(tmp_path / "neg.xy", np.c_[x, -np.linspace(1, 100, 20) + 5])
    cases["negative"] = (tmp_path / "neg.xy", "negative intensities")
    np.savetxt(tmp_path / "zero.xy", np.c_[x, np.zeros_like(x)])
    cases["all zero"] = (tmp_path / "zero.xy", "all intensities are zero")
    np.savetxt(tmp_path / "neg_x.xy", np.c_[x - 50, np.ones_like(x)])
    cases["negative angle"] = (tmp_path / "neg_x.xy", "outside 0-180")
    cases["words"] = (
        write(tmp_path / "words.foo", "hello world\nthis is text\n" * 20),
        "unknown format '.foo'",
    )
    cases["pdf"] = (write(tmp_path / "s.sq", profile_text()), "PDF")
    cases["missing"] = (tmp_path / "nothing.xy", "no such file")
    return cases


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "garbage",
        "one column",
        "nan",
        "inf",
        "non-monotonic",
        "negative",
        "all zero",
        "negative angle",
        "words",
        "pdf",
        "missing",
    ],
)
def test_bad_input_names_file_and_problem(tmp_path, case):
    path, problem = _bad_cases(tmp_path)[case]
    with pytest.raises(CrystalNetInputError) as info:
        load_pattern(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in info.value.problem


def test_huge_file_refused_without_reading(tmp_path):
    path = tmp_path / "huge.xy"
    with open(path, "wb") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk, no read
    start = time.perf_counter()
    with pytest.raises(CrystalNetInputError, match="MB limit"):
        load_pattern(path)
    assert time.perf_counter() - start < 0.5
    assert os.path.getsize(path) > MAX_FILE_BYTES


def test_unknown_extension_sniffed(tmp_path):
    pattern = load_pattern(write(tmp_path / "scan.ras2", profile_text()))
    assert len(pattern) == 50
    assert "unknown extension" in pattern.metadata["note"]


# -- property-based --


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(3, 60),
    start=st.floats(0.5, 60),
    step=st.floats(0.001, 1.0),
    ncol=st.sampled_from([2, 3]),
    delimiter=st.sampled_from([" ", "\t", ","]),
    seed=st.integers(0, 2**16),
)
def test_valid_columns_round_trip(
    tmp_path, n, start, step, ncol, delimiter, seed
):
    rng = np.random.default_rng(seed)
    x = start + step * np.arange(n)
    if x[-1] > 179:
        x = np.linspace(start, 179, n)
    y = rng.uniform(1, 1e5, n)
    data = np.c_[x, y, np.sqrt(y)][:, :ncol]
    path = tmp_path / f"rt{seed}_{ncol}.xye"
    np.savetxt(path, data, delimiter=delimiter, fmt="%.10g")
    pattern = load_pattern(path, wavelength=1.5406)
    assert np.allclose(pattern.x, x, rtol=1e-9)
    assert np.allclose(pattern.intensity, y, rtol=1e-9)
    if ncol == 3:
        assert np.allclose(pattern.sigma, np.sqrt(y), rtol=1e-9)
    else:
        assert pattern.sigma is None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.binary(min_size=0, max_size=400),
    ext=st.sampled_from(
        [".xy", ".xye", ".dat", ".csv", ".chi", ".cif", ".gsas", ".raw", ".q"]
    ),
)
def test_garbage_raises_only_input_errors(tmp_path, data, ext):
    path = tmp_path / f"junk{ext}"
    path.write_bytes(data)
    try:
        load_pattern(path)
    except CrystalNetInputError as error:
        assert error.source == str(path)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    lines=st.lists(
        st.one_of(
            st.text(alphabet="0123456789.-+eE ,\tnaif#=:", max_size=30),
            st.sampled_from(
                ["BANK 1 5 1 CONST 1000 2 0 0 STD", "data_x", "loop_", ""]
            ),
        ),
        max_size=30,
    ),
    ext=st.sampled_from([".xy", ".dat", ".gsas", ".cif", ".chi"]),
)
def test_numeric_junk_raises_only_input_errors(tmp_path, lines, ext):
    path = tmp_path / f"numjunk{ext}"
    path.write_text("\n".join(lines))
    try:
        load_pattern(path)
    except CrystalNetInputError as error:
        assert error.source == str(path)
