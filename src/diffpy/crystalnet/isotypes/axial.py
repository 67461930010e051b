"""The prototype scan: prototypes on their own cell, scaled to the peaks.

Without given cells, cubic prototypes are also put on the cell that lines
their strongest reflections up with the strongest observed peaks (the
cubic scan), so a cubic type is found when indexing fails or prefers
another cell.  The hexagonal, trigonal and tetragonal prototypes are
scanned in the same way (the axial scan): each keeps its own axial ratio
c/a and is scaled isotropically; for the best screened of these (at most
:data:`AXIAL_REFINED`, within the search's ``screen_margin``) c/a is then
refined by the screen within :data:`AXIAL_TOL` before the fit.
"""

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.isotypes.decorations import _merged
from diffpy.crystalnet.physics.lattice import VOLUME_PER_ATOM

__all__ = ["AXIAL_REFINED", "AXIAL_SCAN_FAMILIES", "AXIAL_TOL"]

#: families of the prototypes that the axial scan puts on their own cell
AXIAL_SCAN_FAMILIES = ("hexagonal", "tetragonal")
#: largest relative change of c/a tried by the axial scan's screen
AXIAL_TOL = 0.08
#: best screened candidates of the axial scan whose c/a is refined
AXIAL_REFINED = 6


def _scan_trials(screen, peaks, matching, maps, families):
    """Trials of prototypes on their own cells, scaled to the peaks.

    Each prototype of one of ``families`` keeps its axial ratios and is
    scaled isotropically by the factor that puts its strongest reflections
    on the strongest observed peaks
    (:meth:`~diffpy.crystalnet.isotypes.screen._Screen.scale_trials`).
    """
    trials = []
    for p in matching:
        if p.family not in families:
            continue
        reference = _scaled_cell(p, 1.0)
        # isotropic scales giving 5-60 angstrom^3 per atom
        lo, hi = (
            (v * p.n_atoms / reference.volume) ** (1.0 / 3.0)
            for v in VOLUME_PER_ATOM
        )
        for mapping in maps[p.label]:
            structure = p.structure(mapping, reference)
            try:
                table = screen.sticks(structure)
            except CrystalNetInputError:
                continue
            scales = screen.scale_trials(table, peaks, (lo, hi))
            if not scales:
                continue
            cell = _scaled_cell(p, scales[0])
            info = dict(origin="prototype scan", a=round(cell.a, 5))
            trials.append((p, cell, mapping, info, 0.0))
    return trials


def _scaled_cell(prototype, scale):
    """The prototype's conventional cell scaled isotropically."""
    from pymatgen.core import Lattice

    a, b, c, alpha, beta, gamma = prototype.lattice
    if prototype.family == "cubic":
        return Lattice.cubic(a * scale)
    if prototype.family == "hexagonal":
        return Lattice.hexagonal(a * scale, c * scale)
    if prototype.family == "tetragonal":
        return Lattice.tetragonal(a * scale, c * scale)
    return Lattice.orthorhombic(a * scale, b * scale, c * scale)


def _refine_axial(screen, p, mapping, cell, zero, tol, rounds=2):
    """Refine c/a (within ``tol``) and the scale of a cell by the screen.

    Alternates a grid over c at fixed a (steps of 1 % then 0.25 %) with
    the isotropic strain that screens best.  Returns the cell, its
    structure, stick table, screening profile and R factor.
    """
    from pymatgen.core import Lattice

    def trial(c):
        lattice = Lattice.from_parameters(cell.a, cell.b, c, *cell.angles)
        structure = p.structure(mapping, lattice)
        table = screen.sticks(structure)
        calc = screen.profile_of(table, zero)
        return screen.score(calc), c, structure, table, calc

    c_ref = cell.c
    best = trial(cell.c)
    for _ in range(rounds):
        for step, span in ((0.01, tol), (0.0025, 0.01)):
            centre = best[1]
            n = int(round(span / step))
            for k in range(-n, n + 1):
                c = centre * (1.0 + k * step)
                if k == 0 or abs(c / c_ref - 1.0) > tol + 1e-9:
                    continue
                best = min(best, trial(c), key=lambda item: item[0])
        strain, _ = screen.best_strain(best[3], zero)
        cell = Lattice.from_parameters(
            cell.a * (1.0 + strain),
            cell.b * (1.0 + strain),
            best[1] * (1.0 + strain),
            *cell.angles,
        )
        c_ref *= 1.0 + strain
        best = trial(cell.c)
    return cell, best[2], best[3], best[4], best[0]


def _refine_scanned(screen, items):
    """Refine c/a of the scanned non-cubic candidates among ``items``."""
    changed = False
    for item in items:
        r, p, structure, mapping, info, zero = item[:6]
        if info.get("origin") != "prototype scan" or p.family == "cubic":
            continue
        try:
            cell, structure, table, calc, r_new = _refine_axial(
                screen, p, mapping, structure.lattice, zero, AXIAL_TOL
            )
        except CrystalNetInputError:
            continue
        if r_new < r:
            axial = (cell.c / cell.a) / (p.lattice[2] / p.lattice[0])
            info = dict(
                info,
                a=round(cell.a, 5),
                axial_ratio_change=round(axial - 1.0, 4),
            )
            item[:] = [
                r_new,
                p,
                structure,
                mapping,
                info,
                zero,
                calc,
                [],
                table,
            ]
            changed = True
    return changed


def _scanned_families(cubic_scan, axial_scan):
    """Crystal families whose prototypes find their cell by the scan."""
    families = {"cubic"} if cubic_scan else set()
    if axial_scan:
        families |= set(AXIAL_SCAN_FAMILIES)
    return families


def _refine_best_scanned(screen, screened, screen_margin):
    """Refine c/a of the best screened scan candidates, in place.

    ``screened`` (sorted best first) is sorted again when a c/a changed.
    """
    if screened and AXIAL_TOL:
        best = screened[0][0]
        refine = [
            item
            for item in screened[:AXIAL_REFINED]
            if item[0] <= best + screen_margin * (1.0 - best)
        ]
    if screened and AXIAL_TOL and _refine_scanned(screen, refine):
        screened.sort(
            key=lambda item: (round(item[0], 9), _merged(item[1], item[3]))
        )
