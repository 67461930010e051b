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
"""diffpy - tools for structure analysis by diffraction.

Blank namespace package shared by the diffpy distributions.
"""

# ``extend_path`` lets an editable install of this package coexist with
# diffpy.structure, diffpy.utils, ... installed in site-packages.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

# End of file
