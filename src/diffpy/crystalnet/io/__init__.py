"""Files in and out: pattern formats, structures, volumetric densities and
atomic writes.  Depends only on :mod:`diffpy.crystalnet.physics`.
"""
