"""Reader of GSAS standard powder data (constant wavelength): ``BANK``
records in the STD, ESD, ALT, FXY and FXYE layouts.
"""

import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats.headers import (
    RawPattern,
    wavelength_from_filename,
    wavelength_from_header,
)

__all__ = ["read_gsas"]


def _fixed_fields(line, width):
    line = line.rstrip("\n\r")
    return [line[i : i + width] for i in range(0, len(line), width)]


def read_gsas(path, text):
    """Read GSAS standard powder data (constant wavelength).

    The first line is a title; a ``BANK`` record gives the number of points,
    the binning (``CONST start step`` in centidegrees) and the layout: STD
    (10 fields of 8 characters, an optional 2-character count then the
    intensity; variance = intensity / count), ESD (5 pairs of intensity and
    uncertainty), ALT (4 records of x in centidegrees x 32, intensity and
    uncertainty), FXY and FXYE (free-format x in centidegrees, intensity,
    uncertainty).  Only the first bank is read.  GSAS files carry no
    wavelength (it lives in the instrument parameter file).

    Parameters
    ----------
    path : str
        The file.
    text : str
        Its content.

    Returns
    -------
    RawPattern

    Raises
    ------
    CrystalNetInputError
        For time-of-flight or energy-dispersive banks, unknown layouts or
        malformed records.
    """
    lines = text.splitlines()
    title = lines[0].strip()
    bank_index, bank, nchan, bintyp, layout = _gsas_bank(lines, path)
    body = []
    for line in lines[bank_index + 1 :]:
        if line.startswith("BANK"):
            break
        if line.startswith("#") or not line.strip():
            continue
        body.append(line)
    try:
        x, y, sigma = _gsas_data(body, layout, bank, bintyp, nchan, path)
    except CrystalNetInputError:
        raise  # a specific message (e.g. STD data need CONST binning)
    except (ValueError, IndexError):
        raise CrystalNetInputError(
            f"malformed GSAS {layout} data after "
            f"{lines[bank_index].strip()!r}",
            path,
        ) from None
    if y is None or y.size == 0:
        raise CrystalNetInputError("GSAS bank holds no data", path)
    if y.size != nchan:
        raise CrystalNetInputError(
            f"GSAS bank announces {nchan} points but holds {y.size}", path
        )
    wavelength, origin = wavelength_from_header([title], path)
    if wavelength is None:
        wavelength, origin = wavelength_from_filename(path)
    return RawPattern(
        x=x,
        intensity=y,
        sigma=sigma,
        xtype="tth",
        wavelength=wavelength,
        wavelength_origin=origin,
        format=f"GSAS {layout}",
        metadata={"title": title, "bank": lines[bank_index].strip()},
    )


def _gsas_bank(lines, path):
    """Index, fields, point count, binning and layout of the first BANK;
    refuses time-of-flight and energy-dispersive banks."""
    bank_index = next(i for i, ln in enumerate(lines) if ln.startswith("BANK"))
    bank = lines[bank_index].split()
    if len(bank) < 5:
        raise CrystalNetInputError(
            f"malformed BANK record {lines[bank_index].strip()!r}", path
        )
    try:
        nchan = int(bank[2])
    except ValueError:
        raise CrystalNetInputError(
            f"malformed BANK record {lines[bank_index].strip()!r}", path
        ) from None
    bintyp = bank[4].upper()
    layout = next(
        (
            name
            for name in ("FXYE", "FXY", "ESD", "ALT", "STD")
            if name in (word.upper() for word in bank[5:])
        ),
        "STD",
    )
    if bintyp in ("TIME_MAP", "RALF", "SLOG", "LPTOF") or "EDS" in bintyp:
        raise CrystalNetInputError(
            f"GSAS bank with {bintyp} binning is time-of-flight or energy-"
            "dispersive data, not a constant-wavelength X-ray pattern",
            path,
        )
    return bank_index, bank, nchan, bintyp, layout


def _gsas_data(body, layout, bank, bintyp, nchan, path):
    """x, intensity and sigma of the data records of a bank."""
    if layout in ("FXYE", "FXY"):
        rows = np.array([ln.split()[:3] for ln in body], dtype=float)
        x = rows[:, 0] / 100.0
        y = rows[:, 1]
        sigma = rows[:, 2] if layout == "FXYE" else None
    elif layout == "ALT":
        xs, ys, es = [], [], []
        for line in body:
            for i in range(0, len(line.rstrip()), 20):
                record = line[i : i + 20]
                if not record[:8].strip():
                    break
                xs.append(float(record[:8]) / 3200.0)
                ys.append(float(record[8:15] or 0))
                es.append(float(record[15:20] or 0))
        x, y, sigma = np.array(xs), np.array(ys), np.array(es)
    else:
        if bintyp != "CONST" or len(bank) < 7:
            raise CrystalNetInputError(
                f"GSAS {layout} bank needs CONST binning, got " f"{bintyp!r}",
                path,
            )
        start, step = float(bank[5]) / 100.0, float(bank[6]) / 100.0
        values, errors = [], []
        for line in body:
            if layout == "ESD":
                fields = _fixed_fields(line, 16)
                for f in fields:
                    if not f.strip():
                        break
                    values.append(float(f[:8]))
                    errors.append(float(f[8:16] or 0))
            else:
                for f in _fixed_fields(line, 8):
                    if not f.strip():
                        break
                    count = int(f[:2]) if f[:2].strip() else 1
                    value = float(f[2:8])
                    values.append(value)
                    errors.append(math.sqrt(max(value, 0) / max(count, 1)))
        values = values[:nchan]
        y = np.array(values)
        sigma = np.array(errors[:nchan])
        x = start + step * np.arange(y.size)
    return x, y, sigma
