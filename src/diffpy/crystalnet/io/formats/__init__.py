"""Readers for powder diffraction files, one function per format.

Every reader takes the path and the decoded text of the file and returns a
:class:`RawPattern`: the columns as read plus what the file says about its
axis and wavelength.  :func:`read_pattern_file` picks the reader from the
content first and the extension second, and refuses what is not an X-ray
powder pattern.  :func:`diffpy.crystalnet.io.patterns.load_pattern` turns the
result into a validated :class:`~diffpy.crystalnet.physics.pattern.Pattern`.

Supported formats (see the "Reading powder data" page of the docs):

- columns: ``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv`` and any other text
  file with 2 or 3 numeric columns (whitespace, comma or semicolon separated;
  header lines allowed; a third column is the standard uncertainty);
- Fit2D / pyFAI ``.chi`` in 2-theta or Q (axis from the header);
- "start step end" ``.dat``: a first line with three numbers, then the
  intensities (one or more per line);
- GSAS standard powder data (``.gsas``, ``.gsa``, ``.fxye``, ``.xra``,
  ``.raw`` text): BANK records in STD, ESD, ALT, FXY and FXYE layouts,
  constant-wavelength only;
- IUCr powder CIF (pdCIF): the block that holds the profile loop.

Refused with a message: Bruker RAW binaries (export them as .xy), pair
distribution functions (``.gr``), time-of-flight and neutron data, binary
files and files over
:data:`~diffpy.crystalnet.io.formats.sniff.MAX_FILE_BYTES`.

Modules: :mod:`~diffpy.crystalnet.io.formats.sniff` (checks, format
sniffing, dispatch), :mod:`~diffpy.crystalnet.io.formats.headers`
(:class:`RawPattern`, wavelength and axis from headers),
:mod:`~diffpy.crystalnet.io.formats.columns` (text columns, ``.chi``,
start-step-end), :mod:`~diffpy.crystalnet.io.formats.gsas` and
:mod:`~diffpy.crystalnet.io.formats.pdcif`.
"""

from diffpy.crystalnet.io.formats.columns import (
    read_chi,
    read_columns,
    read_start_step_end,
)
from diffpy.crystalnet.io.formats.gsas import read_gsas
from diffpy.crystalnet.io.formats.headers import (
    RawPattern,
    axis_from_header,
    wavelength_from_filename,
    wavelength_from_header,
)
from diffpy.crystalnet.io.formats.pdcif import read_pdcif
from diffpy.crystalnet.io.formats.sniff import (
    MAX_FILE_BYTES,
    read_pattern_file,
)

__all__ = [
    "MAX_FILE_BYTES",
    "RawPattern",
    "read_pattern_file",
    "read_columns",
    "read_chi",
    "read_start_step_end",
    "read_gsas",
    "read_pdcif",
    "axis_from_header",
    "wavelength_from_header",
    "wavelength_from_filename",
]
