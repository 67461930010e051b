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

The names a refinement script needs are exported here (``__all__``) and
imported lazily: ``import diffpy.crystalnet`` is cheap, and torch or pymatgen
load only when a function that needs them is used.  Everything else is
imported from its sub-package (see the "Architecture" page of the
documentation): ``io``, ``physics``, ``density``, ``datasets``, ``model``,
``index``, ``isotypes``, ``refine``, ``solver`` and ``cli``.
"""

import importlib

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.version import __version__

#: public name -> module that defines it: the names a refinement script
#: needs; everything else is imported from its sub-package
_LAZY = {
    # files and patterns
    "Pattern": "diffpy.crystalnet.physics.pattern",
    "load_pattern": "diffpy.crystalnet.io.patterns",
    "read_structure": "diffpy.crystalnet.io.structures",
    "write_cif": "diffpy.crystalnet.io.structures",
    "to_diffpy": "diffpy.crystalnet.io.structures",
    # physics
    "composition_vector": "diffpy.crystalnet.physics.composition",
    "simulate_pattern": "diffpy.crystalnet.physics.simulator",
    # densities and the network
    "cmed": "diffpy.crystalnet.density.cmed",
    "decode_density": "diffpy.crystalnet.density.decode",
    "load_model": "diffpy.crystalnet.model.checkpoint",
    # peaks and lattice
    "find_peaks": "diffpy.crystalnet.index.peak_search",
    "index_pattern": "diffpy.crystalnet.index.indexing",
    # fitting
    "fit_candidate": "diffpy.crystalnet.refine.profile_fit",
    "extract_intensities": "diffpy.crystalnet.refine.pawley",
    "refine_structure": "diffpy.crystalnet.refine.rietveld",
    "write_refined_cif": "diffpy.crystalnet.refine.cif",
    "search_isotypes": "diffpy.crystalnet.isotypes.search",
    # the pipeline
    "solve": "diffpy.crystalnet.solver.pipeline",
    "SolveSettings": "diffpy.crystalnet.solver.settings",
    "SolveResult": "diffpy.crystalnet.solver.candidates",
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
