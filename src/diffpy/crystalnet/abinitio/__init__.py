"""Ab initio structure solution when no known structure type fits.

:func:`~diffpy.crystalnet.abinitio.direct_space.solve_direct_space` places a
composition on the Wyckoff positions of a space group and searches the
arrangement whose structure factors fit the intensities of a Pawley
decomposition (:func:`~diffpy.crystalnet.refine.pawley.extract_intensities`):
parallel tempering vectorised over replicas, with an anti-bump penalty,
optionally seeded by atoms decoded from network densities.
"""
