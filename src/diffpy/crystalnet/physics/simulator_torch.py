"""Differentiable powder-pattern simulator in torch (for refinement).

The same physics as :mod:`diffpy.crystalnet.physics.simulator` (pymatgen's form
factors, occupancies, isotropic B, Lorentz-polarisation, merged reflections)
and the same profile formulas as :mod:`diffpy.crystalnet.physics.profiles` (the
width
and shape functions are shared, evaluated with ``xp=torch``), written so that
autograd gives derivatives with respect to

* fractional coordinates of the sites,
* lattice parameters a, b, c (angstrom) and alpha, beta, gamma (degrees),
* isotropic displacement B of every scatterer and occupancies,
* the scale, the zero shift, the Caglioti u, v, w, the mixing eta, the
  crystallite size, the microstrain and the background coefficients.

The set of reflections (Miller indices) and which of them merge into one peak
are fixed when the model is built; positions and intensities follow the
parameters.  Rebuild the model after large lattice changes.  Symmetry
constraints (special positions, equal cell edges) are not imposed here: a
refinement applies them to the parameters it passes in.
"""

import math

import numpy as np
import torch

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.broadening import (
    _sum_peaks,
    background,
    profile_grid,
)
from diffpy.crystalnet.physics.profiles import (
    as_profile,
    kalpha_sticks,
    lorentz_polarization,
)
from diffpy.crystalnet.physics.scattering import (
    _scatterers,
    _two_theta_limits,
    displacement_b,
    enumerate_reflections,
)
from diffpy.crystalnet.physics.wavelengths import (
    kalpha_doublet,
    resolve_wavelength,
)

__all__ = [
    "reciprocal_metric",
    "form_factors",
    "reflection_intensities",
    "PowderModel",
]

_DEG = math.pi / 180.0


def reciprocal_metric(lattice):
    """Reciprocal metric tensor G* from lattice parameters.

    Parameters
    ----------
    lattice : torch.Tensor
        (a, b, c, alpha, beta, gamma) in angstrom and degrees.

    Returns
    -------
    torch.Tensor
        3x3 G* with 1/d^2 = h G* h^T.
    """
    a, b, c = lattice[0], lattice[1], lattice[2]
    ca, cb, cg = (torch.cos(lattice[i] * _DEG) for i in (3, 4, 5))
    metric = torch.stack(
        [
            torch.stack([a * a, a * b * cg, a * c * cb]),
            torch.stack([a * b * cg, b * b, b * c * ca]),
            torch.stack([a * c * cb, b * c * ca, c * c]),
        ]
    )
    return torch.linalg.inv(metric)


def form_factors(s2, z, coeff):
    """Atomic scattering factors, shape (M, N), as in the numpy simulator.

    Parameters
    ----------
    s2 : torch.Tensor
        (sin(theta)/lambda)^2 per reflection, shape (M,).
    z : torch.Tensor
        Atomic numbers, shape (N,).
    coeff : torch.Tensor
        Gaussian coefficients (a_i, b_i), shape (N, n, 2).

    Returns
    -------
    torch.Tensor
        f = Z - 41.78214 s^2 sum_i a_i exp(-b_i s^2).
    """
    gauss = torch.exp(-s2[:, None, None] * coeff[None, :, :, 1])
    gauss = (gauss * coeff[None, :, :, 0]).sum(-1)
    return z[None, :] - 41.78214 * s2[:, None] * gauss


def reflection_intensities(
    hkl, lattice, frac, occ, z, coeff, b_iso, wavelength
):
    """Positions and intensities of individual reflections.

    Parameters
    ----------
    hkl : torch.Tensor
        Miller indices (float) of one Friedel half-space, shape (M, 3).
    lattice : torch.Tensor
        (a, b, c, alpha, beta, gamma).
    frac : torch.Tensor
        Fractional coordinates of the scatterers, shape (N, 3).
    occ, z : torch.Tensor
        Occupancies and atomic numbers, shape (N,).
    coeff : torch.Tensor
        Form-factor coefficients, shape (N, n, 2).
    b_iso : torch.Tensor or None
        Isotropic B in angstrom^2, shape (N,).
    wavelength : float
        Wavelength in angstrom.

    Returns
    -------
    (torch.Tensor, torch.Tensor, torch.Tensor)
        2-theta in degrees, intensity ``2 |F|^2 LP`` (both Friedel
        mates), and ``|F|^2`` of each reflection.
    """
    g2 = torch.einsum("mi,ij,mj->m", hkl, reciprocal_metric(lattice), hkl)
    g = torch.sqrt(g2)
    s2 = g2 / 4.0
    weight = form_factors(s2, z, coeff) * occ[None, :]
    if b_iso is not None:
        weight = weight * torch.exp(-s2[:, None] * b_iso[None, :])
    phase = (2 * math.pi) * (hkl @ frac.T)
    f_re = (weight * torch.cos(phase)).sum(1)
    f_im = (weight * torch.sin(phase)).sum(1)
    f2 = f_re * f_re + f_im * f_im
    theta = torch.arcsin(torch.clamp(wavelength * g / 2, -1.0, 1.0))
    intensity = 2 * f2 * lorentz_polarization(theta, xp=torch)
    return 2 * theta / _DEG, intensity, f2


def _param(value, dtype):
    return torch.nn.Parameter(torch.as_tensor(value, dtype=dtype).clone())


class PowderModel(torch.nn.Module):
    """A structure and a profile as a differentiable torch module.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        Starting structure (its reflections are enumerated once).
    wavelength : float or str
        Wavelength in angstrom or a line name.
    two_theta_range : (float, float)
        Range of the reflections and of the default grid, degrees.
    profile : Profile or dict, optional
        Starting profile parameters (needed for :meth:`forward`).
    b_factors, u_iso : optional
        Starting isotropic displacement, as in
        :func:`~diffpy.crystalnet.physics.simulator.simulate_pattern`; default
        0.
    dtype : torch.dtype
        float64 (default, needed for gradcheck) or float32.

    Attributes
    ----------
    frac_coords : torch.nn.Parameter
        (n_sites, 3) fractional coordinates.
    lattice : torch.nn.Parameter
        (a, b, c, alpha, beta, gamma).
    b_iso, occupancy : torch.nn.Parameter
        Per scatterer (site and species).
    scale, zero_shift, u, v, w, microstrain : torch.nn.Parameter
        Profile parameters; ``eta`` and ``crystallite_size`` too when set in
        the profile; ``background`` holds its coefficients.
    """

    def __init__(
        self,
        structure,
        wavelength="MoKa",
        two_theta_range=(0, 180),
        profile=None,
        b_factors=None,
        u_iso=None,
        dtype=torch.float64,
    ):
        super().__init__()
        where = "structure"
        self.profile = as_profile(profile)
        lam = resolve_wavelength(wavelength, "wavelength")
        if self.profile is not None and self.profile.kalpha2:
            doublet = kalpha_doublet(lam)
            if doublet is None:
                raise CrystalNetInputError(
                    f"kalpha2 needs a K-alpha wavelength, not {lam:g} A",
                    "profile",
                )
            lam = doublet[0]
        self.wavelength = lam
        self.two_theta_range = tuple(float(t) for t in two_theta_range)
        if "U11_cif" in structure.site_properties:
            raise CrystalNetInputError(
                "anisotropic U11_cif... displacement is not supported by the "
                "torch simulator",
                where,
            )
        sc = _scatterers(structure, where)
        b = displacement_b(
            b_factors, sc["symbols"], sc["site_index"], len(structure), u_iso
        )
        lo, hi = self.two_theta_range
        if self.profile is not None:
            lo, hi = 0.0, min(180.0, hi + 5.0)
        min_r, max_r = _two_theta_limits((lo, hi), lam)
        hkl, g = enumerate_reflections(structure.lattice.matrix, min_r, max_r)
        if len(g) == 0:
            raise CrystalNetInputError("no reflection in range", where)
        tth = np.degrees(2 * np.arcsin(np.clip(lam * g / 2, -1, 1)))
        keys = np.round(tth / 1e-5).astype(np.int64)
        starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
        group = np.repeat(
            np.arange(len(starts)), np.diff(np.r_[starts, len(g)])
        )
        self.register_buffer("hkl", torch.as_tensor(hkl, dtype=dtype))
        self.register_buffer("group", torch.as_tensor(group))
        self.register_buffer("group_first", torch.as_tensor(starts))
        self.register_buffer("site_index", torch.as_tensor(sc["site_index"]))
        self.register_buffer("z", torch.as_tensor(sc["z"], dtype=dtype))
        self.register_buffer(
            "coeff", torch.as_tensor(sc["coeff"], dtype=dtype)
        )
        lat = structure.lattice
        self.frac_coords = _param(structure.frac_coords, dtype)
        self.lattice = _param([*lat.abc, *lat.angles], dtype)
        self.occupancy = _param(sc["occ"], dtype)
        self.b_iso = _param(np.zeros(len(sc["z"])) if b is None else b, dtype)
        prof = self.profile
        self.scale = _param(1.0, dtype)
        if prof is not None:
            self.zero_shift = _param(prof.zero_shift, dtype)
            self.u = _param(prof.u, dtype)
            self.v = _param(prof.v, dtype)
            self.w = _param(prof.w, dtype)
            self.microstrain = _param(prof.microstrain, dtype)
            self.eta = None if prof.eta is None else _param(prof.eta, dtype)
            self.crystallite_size = (
                None
                if prof.crystallite_size is None
                else _param(prof.crystallite_size, dtype)
            )
            self.background = _param(list(prof.background), dtype)
            x, grid = profile_grid(self.two_theta_range, prof, lam)
            self.register_buffer("x", torch.as_tensor(x, dtype=dtype))
            self.register_buffer("grid", torch.as_tensor(grid, dtype=dtype))
            with torch.no_grad():
                top = self._peaks(self.grid).max()
            self.scale.data.fill_(prof.intensity_max / float(top))

    def _get(self, name, overrides):
        if overrides and name in overrides:
            return overrides[name]
        return getattr(self, name)

    def reflections(self, **overrides):
        """2-theta (degrees), intensity and ``|F|^2`` of every reflection.

        Parameters
        ----------
        **overrides : torch.Tensor
            Tensors used instead of the parameters of the same name
            (``frac_coords``, ``lattice``, ``occupancy``, ``b_iso``), e.g.
            built from symmetry-constrained refinement variables.

        Returns
        -------
        (torch.Tensor, torch.Tensor, torch.Tensor)
            Unscaled intensities (``2 |F|^2 LP``), in enumeration order.
        """
        frac = self._get("frac_coords", overrides)[self.site_index]
        return reflection_intensities(
            self.hkl,
            self._get("lattice", overrides),
            frac,
            self._get("occupancy", overrides),
            self.z,
            self.coeff,
            self._get("b_iso", overrides),
            self.wavelength,
        )

    def sticks(self, cut=True, **overrides):
        """Merged peaks like XRDCalculator (unscaled).

        Parameters
        ----------
        cut : bool
            Drop peaks below 1e-5 of the strongest, as XRDCalculator does.
        **overrides : torch.Tensor
            Replacements for parameters, as in :meth:`reflections` (and
            ``scale``).

        Returns
        -------
        (torch.Tensor, torch.Tensor)
            Peak positions (2-theta of the first reflection of each merged
            group, without zero shift) and intensities times ``scale``.
        """
        tth, inten, _ = self.reflections(**overrides)
        n = len(self.group_first)
        merged = torch.zeros(n, dtype=inten.dtype, device=inten.device)
        merged = merged.index_add(0, self.group, inten)
        pos = tth[self.group_first]
        if cut:
            keep = merged / merged.max() * 100 > 1e-3
            pos, merged = pos[keep], merged[keep]
        return pos, self._get("scale", overrides) * merged

    def _peaks(self, grid, overrides=None):
        overrides = overrides or {}
        prof = self.profile
        pos, inten = self.sticks(cut=False, **overrides)
        get = self._get
        if prof.kalpha2:
            pos, inten = kalpha_sticks(
                pos, inten, self.wavelength, prof.kalpha2_ratio, xp=torch
            )
        return _sum_peaks(
            pos + get("zero_shift", overrides),
            inten,
            grid,
            self.wavelength,
            get("u", overrides),
            get("v", overrides),
            get("w", overrides),
            get("eta", overrides),
            get("crystallite_size", overrides),
            get("microstrain", overrides),
            prof.scherrer_k,
            prof.cutoff,
            xp=torch,
        )

    def forward(self, grid=None, **overrides):
        """The profile on a 2-theta grid (default: the profile's grid).

        Parameters
        ----------
        grid : torch.Tensor, optional
            Increasing 2-theta values in degrees.
        **overrides : torch.Tensor
            Tensors used instead of the parameters of the same name, e.g.
            ``lattice=torch.stack([a, a, a, *angles])`` for a cubic cell.

        Returns
        -------
        torch.Tensor
            scale x peaks + background, equal to the numpy profile of
            :func:`~diffpy.crystalnet.physics.simulator.simulate_pattern`
            (without
            noise) at the starting parameters.
        """
        if self.profile is None:
            raise CrystalNetInputError(
                "the model was built without a profile", "profile"
            )
        x = self.x
        if grid is None:
            grid = self.grid
        else:
            grid = torch.as_tensor(grid, dtype=self.hkl.dtype)
            x = grid
        y = self._peaks(grid, overrides)
        bkg = self._get("background", overrides)
        if len(bkg):
            y = y + background(x, bkg, self.profile.background_type, xp=torch)
        return y
