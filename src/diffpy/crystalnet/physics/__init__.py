"""The physics everything else builds on.

Wavelengths (the one K-alpha table), 2-theta/Q transforms, the
:class:`~diffpy.crystalnet.physics.pattern.Pattern` type, lattices and
crystal systems, composition, scattering and pattern simulation, peak
profiles and broadening, the one table of profile-parameter bounds
(:mod:`~diffpy.crystalnet.physics.profile_bounds`), background and the
CrystalNet input grid.  The bottom layer: it imports nothing else from the
package.
"""
