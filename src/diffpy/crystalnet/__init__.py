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
    "load_pattern": "diffpy.crystalnet.io.patterns",
    "Pattern": "diffpy.crystalnet.io.patterns",
    "composition_vector": "diffpy.crystalnet.physics.composition",
    "parse_formula": "diffpy.crystalnet.physics.composition",
    "read_structure": "diffpy.crystalnet.io.structures",
    "write_cif": "diffpy.crystalnet.io.structures",
    "to_diffpy": "diffpy.crystalnet.io.structures",
    "from_diffpy": "diffpy.crystalnet.io.structures",
    "resolve_wavelength": "diffpy.crystalnet.physics.wavelengths",
    "cmed": "diffpy.crystalnet.density.cmed",
    "cmed_cell": "diffpy.crystalnet.physics.cells",
    "simulate_pattern": "diffpy.crystalnet.physics.simulator",
    "Profile": "diffpy.crystalnet.physics.profiles",
    "CrystalNet": "diffpy.crystalnet.model.network",
    "CrystalNetConfig": "diffpy.crystalnet.model.config",
    "load_model": "diffpy.crystalnet.model.checkpoint",
    "save_checkpoint": "diffpy.crystalnet.model.checkpoint",
    "find_peaks": "diffpy.crystalnet.index.peak_search",
    "index_pattern": "diffpy.crystalnet.index.indexing",
    "IndexingError": "diffpy.crystalnet.index.indexing",
    "parse_lattice": "diffpy.crystalnet.index.lattice_text",
    "solve": "diffpy.crystalnet.solve.pipeline",
    "decode_density": "diffpy.crystalnet.density.decode",
    "fit_candidate": "diffpy.crystalnet.refine.profile_fit",
    "refine_structure": "diffpy.crystalnet.refine.rietveld",
    "search_isotypes": "diffpy.crystalnet.isotypes.search",
    "load_isotype_library": "diffpy.crystalnet.isotypes.library",
    "extract_intensities": "diffpy.crystalnet.refine.pawley",
    "fourier_recycle": "diffpy.crystalnet.solve.recycle",
    "improve_density": "diffpy.crystalnet.solve.recycle",
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
