#!/usr/bin/env python
##############################################################################
#
# (c) 2026 The Trustees of Columbia University in the City of New York.
# All rights reserved.
#
# File coded by: the diffpy.crystalnet developers.
#
# See LICENSE.rst for license information.
#
##############################################################################
"""Definition of __version__."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("diffpy.crystalnet")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

# End of file
