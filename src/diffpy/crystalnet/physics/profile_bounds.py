"""The one table of start values and bounds of the profile parameters.

Every engine that refines a powder profile against a measured pattern
(the profile fit of a candidate, the Pawley extraction and the Rietveld
refinement in :mod:`diffpy.crystalnet.refine`) starts its non-linear
profile parameters from, and bounds them by, :data:`PROFILE_BOUNDS`; each
selects the names it refines, e.g.
``{k: PROFILE_BOUNDS[k] for k in ("zero_shift", "u", "v", "w")}``.
The peak shapes these parameters describe are those of
:mod:`diffpy.crystalnet.physics.profiles`.
"""

__all__ = ["PROFILE_BOUNDS"]

#: ``name -> (start, lower, upper)`` of the refinable profile parameters:
#:
#: * ``zero_shift``: zero-point shift added to every peak position, in
#:   degrees 2-theta.
#: * ``u``, ``v``, ``w``: Caglioti coefficients in deg^2, Gaussian
#:   ``FWHM^2 = u tan^2(theta) + v tan(theta) + w`` (the start gives narrow
#:   lab peaks, FWHM about 0.07 deg).
#: * ``inverse_size``: inverse crystallite size in 1/nm, the Lorentzian
#:   Scherrer width (``crystallite_size = 1 / inverse_size`` nm; 0 means
#:   no size broadening).
#: * ``microstrain``: microstrain epsilon (dimensionless), Lorentzian width
#:   ``4 epsilon tan(theta)``.
#: * ``strain``: isotropic lattice strain (dimensionless): the cell is
#:   scaled by ``1 + strain`` (within 2 %).
#: * ``kalpha2_ratio``: K-alpha2 / K-alpha1 intensity ratio
#:   (dimensionless; 0 for monochromated data).
#: * ``b_iso``: overall isotropic displacement ``B`` in angstrom^2
#:   (intensities scaled by ``exp(-2 B s^2)``, ``s = 1 / (2 d)``).
PROFILE_BOUNDS = {
    "zero_shift": (0.0, -0.5, 0.5),
    "u": (0.0, 0.0, 0.5),
    "v": (0.0, -0.5, 0.5),
    "w": (0.004, 1e-5, 0.5),
    "inverse_size": (0.005, 0.0, 0.2),
    "microstrain": (0.0, 0.0, 0.01),
    "strain": (0.0, -0.02, 0.02),
    "kalpha2_ratio": (0.5, 0.0, 1.0),
    "b_iso": (0.5, 0.0, 10.0),
}
