"""The physics everything else builds on: wavelengths (the one K-alpha
table), 2-theta/Q transforms, the :class:`Pattern` type, lattices and
crystal systems, composition, scattering and pattern simulation, peak
profiles (the one bounds table), background and the CrystalNet input grid.
The bottom layer: imports nothing else from the package.
"""
