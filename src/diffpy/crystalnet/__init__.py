#!/usr/bin/env python
##############################################################################
#
# (c) 2026 The Trustees of Columbia University in the City of New York.
# All rights reserved.
#
# File coded by: the diffpy.crystalnet developers.
#
# See GitHub contributions for a more detailed list of contributors.
# https://github.com/diffpy/diffpy.crystalnet/graphs/contributors
#
# See LICENSE.rst for license information.
#
##############################################################################
"""Crystal structure solution from powder X-ray diffraction with CrystalNet.

The public names are imported lazily: ``import diffpy.crystalnet`` is cheap,
and torch or pymatgen load only when a function that needs them is used.
"""

import importlib

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.version import __version__

#: public name -> module that defines it
_LAZY = {
    "load_pattern": "diffpy.crystalnet.patterns",
    "Pattern": "diffpy.crystalnet.patterns",
    "composition_vector": "diffpy.crystalnet.composition",
    "parse_formula": "diffpy.crystalnet.composition",
    "read_structure": "diffpy.crystalnet.structures",
    "write_cif": "diffpy.crystalnet.structures",
    "to_diffpy": "diffpy.crystalnet.structures",
    "from_diffpy": "diffpy.crystalnet.structures",
    "resolve_wavelength": "diffpy.crystalnet.wavelengths",
    "cmed": "diffpy.crystalnet.density",
    "cmed_cell": "diffpy.crystalnet.cells",
    "simulate_pattern": "diffpy.crystalnet.simulator",
    "Profile": "diffpy.crystalnet.profiles",
    "CrystalNet": "diffpy.crystalnet.model",
    "CrystalNetConfig": "diffpy.crystalnet.model",
    "load_model": "diffpy.crystalnet.checkpoint",
    "save_checkpoint": "diffpy.crystalnet.checkpoint",
    "find_peaks": "diffpy.crystalnet.peak_search",
    "index_pattern": "diffpy.crystalnet.indexing",
    "IndexingError": "diffpy.crystalnet.indexing",
    "parse_lattice": "diffpy.crystalnet.indexing",
    "solve": "diffpy.crystalnet.solve",
    "decode_density": "diffpy.crystalnet.decode",
    "fit_candidate": "diffpy.crystalnet.fit",
    "refine_structure": "diffpy.crystalnet.refine",
    "search_isotypes": "diffpy.crystalnet.isotypes",
    "load_isotype_library": "diffpy.crystalnet.isotypes",
    "extract_intensities": "diffpy.crystalnet.improve",
    "fourier_recycle": "diffpy.crystalnet.improve",
    "improve_density": "diffpy.crystalnet.improve",
}

__all__ = ["CrystalNetInputError", "__version__", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# End of file
