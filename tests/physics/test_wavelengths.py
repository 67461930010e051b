"""Named wavelengths and their parsing."""

import pytest

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.wavelengths import (
    WAVELENGTHS,
    kalpha_doublet,
    resolve_wavelength,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("CuKa1", 1.54056),
        ("cu k-alpha1", 1.54056),
        ("Cu", 1.54184),
        ("MoKa", 0.71073),
        ("Mo Kα1", 0.70930),
        ("AgKa", 0.560885),
        ("CuKb", 1.39222),
        ("0.7107", 0.7107),
        ("0.7107 A", 0.7107),
        ("0.15406 nm", 1.5406),
        (1.5, 1.5),
    ],
)
def test_resolve(text, expected):
    assert resolve_wavelength(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad", ["12 keV", "Xx", "", -1.0, 0.0, 50, None, True]
)
def test_bad_wavelength_names_source(bad):
    with pytest.raises(CrystalNetInputError) as info:
        resolve_wavelength(bad, source="data.xy")
    assert str(info.value).startswith("data.xy:")
    assert isinstance(info.value, ValueError)


def test_ka_is_weighted_mean_of_doublet():
    for anode in ("Cu", "Mo", "Ag", "Cr", "Fe", "Co"):
        ka1, ka2, ratio = kalpha_doublet(WAVELENGTHS[anode + "Ka"])
        mean = (ka1 + ratio * ka2) / (1 + ratio)
        assert mean == pytest.approx(WAVELENGTHS[anode + "Ka"], abs=2e-4)


def test_synchrotron_has_no_doublet():
    assert kalpha_doublet(0.1665) is None
