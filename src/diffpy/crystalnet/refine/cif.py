"""CIF output of a Rietveld refinement.

:func:`write_refined_cif` writes the outcome of a refinement
(:class:`~diffpy.crystalnet.refine.rietveld.RefinementResult`): space
group and operations, cell and coordinates with their esds, ``Uiso`` per
site and the figures of merit.
"""

import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.refine.rietveld import RefinementResult

__all__ = ["write_refined_cif"]


def _with_esd(value, esd, decimals=6):
    """``1.23456(7)``: the value to the esd's last digit, 2 digits <= 19."""
    if esd is None or not np.isfinite(esd) or esd <= 0:
        return f"{value:.{decimals}f}"
    n = -int(math.floor(math.log10(esd)))
    if esd * 10.0**n < 2.0:
        n += 1
    n = max(0, min(n, 10))
    digits = int(round(esd * 10.0**n))
    if digits == 0:
        return f"{value:.{n}f}"
    return f"{value:.{n}f}({digits})"


def _quote(text):
    return "'" + str(text).replace("'", "") + "'"


def _atom_site_lines(sites):
    """The rows of the atom-site loop, one per species of each site."""
    lines = []
    factor = 8.0 * math.pi**2
    for site in sites:
        mult = "".join(ch for ch in site["wyckoff"] if ch.isdigit())
        letter = "".join(ch for ch in site["wyckoff"] if ch.isalpha())
        coords = " ".join(
            _with_esd(v % 1.0, e, 6)
            for v, e in zip(site["frac"], site["frac_esd"])
        )
        u = site["b_iso"] / factor
        u_esd = site["b_iso_esd"]
        u_text = _with_esd(u, None if u_esd is None else u_esd / factor, 5)
        for k, (el, occ) in enumerate(site["species"].items()):
            label = site["label"] if k == 0 else f"{site['label']}_{el}"
            lines.append(
                f"{label} {el} {mult} {letter} {coords} {u_text} Uiso "
                f"{occ:.4f}"
            )
    return lines


def write_refined_cif(result, path, force=False):
    """Write a refined structure and its fit figures as a CIF, atomically.

    The CIF holds the space group and its operations, the cell and the
    atomic coordinates with their esds in parentheses, ``Uiso`` per site,
    and the Rietveld figures of merit (``_pd_proc_ls_prof_wR_factor``,
    ``_pd_proc_ls_prof_R_factor``, ``_pd_proc_ls_prof_wR_expected``,
    ``_refine_ls_goodness_of_fit_all``, ``_refine_ls_number_parameters``),
    the wavelength and the 2-theta range.  It reads back with pymatgen and
    with diffpy.structure.

    Parameters
    ----------
    result : RefinementResult
        The outcome of
        :func:`~diffpy.crystalnet.refine.rietveld.refine_structure`.
    path : str or os.PathLike
        The CIF to write; its folder must exist.
    force : bool, optional
        Replace an existing file (default False: an existing file is an
        error).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    CrystalNetInputError
        If the file exists and ``force`` is false, its folder does not
        exist, or ``result`` is not a :class:`RefinementResult`.
    """
    from diffpy.crystalnet.io.files import write_text

    if not isinstance(result, RefinementResult):
        raise CrystalNetInputError(
            f"expected a RefinementResult, not {type(result).__name__}",
            "result",
        )
    p, esd = result.parameters, result.esd
    s = result.structure
    comp = s.composition
    formula = " ".join(
        f"{el}{'' if amt == 1 else f'{amt:g}'}"
        for el, amt in comp.reduced_composition.get_el_amt_dict().items()
    )
    z = comp.num_atoms / comp.reduced_composition.num_atoms
    x = result.fit.two_theta
    lines = [
        "# Rietveld refinement by diffpy.crystalnet (refine_structure)",
        f"data_{comp.reduced_formula}",
        f"_audit_creation_method {_quote('diffpy.crystalnet')}",
        f"_chemical_formula_sum {_quote(formula)}",
        f"_cell_formula_units_Z {int(round(z))}",
        f"_space_group_name_H-M_alt {_quote(result.spacegroup_symbol)}",
        f"_space_group_IT_number {result.spacegroup_number}",
        f"_symmetry_space_group_name_H-M {_quote(result.spacegroup_symbol)}",
        f"_symmetry_Int_Tables_number {result.spacegroup_number}",
    ]
    for k in ("a", "b", "c"):
        lines.append(f"_cell_length_{k} {_with_esd(p[k], esd.get(k), 6)}")
    for k in ("alpha", "beta", "gamma"):
        lines.append(f"_cell_angle_{k} {_with_esd(p[k], esd.get(k), 4)}")
    lines += [
        f"_cell_volume {s.volume:.4f}",
        "_diffrn_radiation_probe x-ray",
        f"_diffrn_radiation_wavelength {result.wavelength:.6f}",
        f"_pd_proc_wavelength {result.wavelength:.6f}",
        f"_pd_meas_2theta_range_min {x[0]:.4f}",
        f"_pd_meas_2theta_range_max {x[-1]:.4f}",
        f"_pd_meas_2theta_range_inc {(x[-1] - x[0]) / max(len(x) - 1, 1):.5f}",
        f"_pd_proc_ls_prof_wR_factor {result.rwp:.5f}",
        f"_pd_proc_ls_prof_R_factor {result.rp:.5f}",
        f"_pd_proc_ls_prof_wR_expected {result.rexp:.5f}",
        f"_refine_ls_goodness_of_fit_all {result.gof:.4f}",
        f"_refine_ls_number_parameters {result.n_parameters}",
        f"_refine_ls_shift/su_max {_quote('n/a')}",
        f"_pd_proc_ls_background_function "
        f"{_quote('Chebyshev, %d terms' % len(p['background']))}",
        f"_pd_proc_ls_profile_function "
        f"{_quote('Thompson-Cox-Hastings pseudo-Voigt')}",
        "",
        "loop_",
        "_space_group_symop_id",
        "_space_group_symop_operation_xyz",
    ]
    for i, op in enumerate(result.symmetry_operations, 1):
        lines.append(f"{i} {_quote(op)}")
    lines += [
        "",
        "loop_",
        "_atom_site_label",
        "_atom_site_type_symbol",
        "_atom_site_symmetry_multiplicity",
        "_atom_site_Wyckoff_symbol",
        "_atom_site_fract_x",
        "_atom_site_fract_y",
        "_atom_site_fract_z",
        "_atom_site_U_iso_or_equiv",
        "_atom_site_adp_type",
        "_atom_site_occupancy",
    ]
    lines += _atom_site_lines(result.sites)
    text = "\n".join(lines) + "\n"
    return write_text(path, text, force=force)


# End of file
