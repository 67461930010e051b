"""Success rate and speed of powder indexing on simulated lab patterns.

Structures: the AFLOW prototypes bundled with pymatgen
(``diffpy.crystalnet.datasets.sources.from_prototypes``) of the crystal systems
asked for (``--systems``, default cubic and trigonal), optionally decorated
with other elements (``--decorate``), and optionally the structures of a
CDVAE-format CSV table (``--csv``, e.g. the MP-20 test split), at most
``--limit`` per crystal system.  Each is simulated as a lab profile
(pseudo-Voigt TCH peaks, K-alpha1 + K-alpha2, Chebyshev background, Poisson
noise, a random zero shift of up to +-0.05 deg) at Cu K-alpha over 10-90 deg
and at Mo K-alpha over 5-60 deg, then indexed with ``index_pattern`` (peaks
found by ``find_peaks``).

A result counts as right when the Bravais lattice (cP, cI, cF, hP, hR, tP, tI,
oP, oC, oI, oF, mP, mC) and the standard conventional cell (a, b, c within
``--rtol``, 0.1 % by default, angles within 0.1 deg) match the structure's;
"top-1" is the first solution, "top-5" among the first five.  Patterns refused
with IndexingError count as failures.

Optionally ``--measured PATH:WAVELENGTH ...`` indexes measured files too and
prints the best solution (wavelength as a number or a line name).

Reference (``--reference cellexplorer``)
----------------------------------------
The same peak list (the first ``--max-peaks`` lines found by ``find_peaks``,
the lines ``index_pattern`` uses) is also indexed by ``CellExplorer``, the
DICVOL-like dichotomy search of ObjCryst++/FOX, through ``pyobjcryst``
(optional: when it cannot be imported the benchmark says so and runs without
it; diffpy.crystalnet itself never uses it).  The search follows FOX's
"quick" indexing: the crystal systems that ``index_pattern`` searches (with
``--systems all``: cubic P, I, F; tetragonal P, I; rhombohedral; hexagonal;
orthorhombic P, I, A, B, C, F; monoclinic P, C, I, A; triclinic), from high
to low symmetry, volume window per lattice from ``EstimateCellVolume``
(kappa 1.5 to 0.4, at most 5000 A^3), cell lengths 2-25 A, monoclinic angle
90-140 deg, ``DicVol(10, 4, 50, 6)``, and lower symmetries are skipped once a
solution scores above 50 (every centring of a crystal system is searched:
FOX skips I, F, C, ... when P scored above 50 already, so that a centred
lattice was found as P); then again allowing 1, 2, ... spurious lines
(``--reference-spurious``, default 2 like ``index_pattern``'s
``max_unindexed``) while no solution scores above 50.  Each line gets a
window of +-``--reference-error`` degrees 2-theta (default 0.06; CellExplorer
does not search a zero shift, and the simulated patterns have one of up to
0.05 deg).  Its solutions are ranked by CellExplorer's score, each cell is
standardised with spglib (a dummy structure with one atom per lattice point,
as ``index_pattern`` does) and scored with the same criterion; duplicates
after standardisation are dropped.  CellExplorer has no R-centred hexagonal
lattice and its rhombohedral search is unfinished (marked TODO in
ObjCryst++; it finds nothing), so it gives hR lattices as hP.  Each search
runs in a forked process and is stopped after ``--reference-timeout``
seconds (counted as refused).  The reference times are those of
CellExplorer alone; ours include the peak search.

Usage::

    python benchmarks/bench_indexing.py --limit 60
    python benchmarks/bench_indexing.py --systems all --limit 20 \
        --csv ../shared/data/structures/mp20_dev/test.csv
    python benchmarks/bench_indexing.py --measured scan.xy:CuKa
    python benchmarks/bench_indexing.py --systems all --limit 3 --cu-only \
        --reference cellexplorer
"""

import argparse
import io
import math
import os
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.index.indexing import SYSTEMS as ALL_SYSTEMS
from diffpy.crystalnet.index.solution import BRAVAIS_LETTER


def bravais(system, centring):
    """Bravais symbol: cF, hP, hR, oC, ..."""
    return BRAVAIS_LETTER[system] + centring


def truth(structure):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=0.01)
    conv = sga.get_conventional_standard_structure()
    system = sga.get_crystal_system()
    symbol = sga.get_space_group_symbol()
    return (
        bravais(system, symbol[0]),
        conv.lattice.parameters,
        symbol,
        system,
        conv.lattice,
    )


def is_right(sol, ref, rtol, atol=0.1):
    """Same Bravais symbol and conventional cell: lengths within the
    relative ``rtol``, angles within ``atol`` degrees."""
    symbol, params = ref[:2]
    got = sol.lattice.parameters
    return (
        bravais(sol.system, sol.centring) == symbol
        and all(abs(g / t - 1) <= rtol for g, t in zip(got[:3], params[:3]))
        and all(abs(g - t) <= atol for g, t in zip(got[3:], params[3:]))
    )


def same_lattice(sol, ref, rtol, atol=0.1):
    """The solution's lattice is the structure's (same lattice points):
    equal Niggli-reduced primitive cells, whatever the symmetry label
    (lengths within the relative ``rtol``, angles within ``atol`` degrees).

    A P1 crystal whose lattice is metrically monoclinic within the
    indexing tolerance is indexed as monoclinic: a different label, the
    same lattice."""
    from diffpy.crystalnet.physics.lattice import CENTRING_POINTS

    def reduced(lattice, centring):
        from pymatgen.core import Structure

        points = CENTRING_POINTS[centring]
        dummy = Structure(lattice, ["Cu"] * len(points), points)
        prim = dummy.get_primitive_structure(tolerance=0.01)
        return prim.lattice.get_niggli_reduced_lattice().parameters

    got = reduced(sol.lattice, sol.centring)
    want = reduced(ref[4], ref[0][1])
    return all(
        abs(g / t - 1) <= rtol for g, t in zip(got[:3], want[:3])
    ) and all(abs(g - t) <= atol for g, t in zip(got[3:], want[3:]))


def structures(limit, decorate, seed, systems, csv=None, random_fill=False):
    """At most ``limit`` structures of each crystal system.

    Prototypes (decorated with ``decorate``), then the structures of the
    CSV tables ``csv``; with ``random_fill``, random symmetric crystals
    (pyxtal, space groups of the system drawn uniformly) fill the systems
    that have fewer than ``limit``.
    """
    from diffpy.crystalnet.datasets.source_files import from_csv
    from diffpy.crystalnet.datasets.sources import from_prototypes, select

    records = list(from_prototypes(systems=systems, max_atoms=20))
    if decorate:
        from diffpy.crystalnet.datasets.decorate import decorate_records

        records = list(decorate_records(records, n_per_parent=1, seed=seed))
    for path in csv or ():
        records += list(select(from_csv(path), systems=systems, max_atoms=40))
    rng = np.random.default_rng(seed)
    rng.shuffle(records)
    out, per = [], {}
    for record in records:
        system = truth(record.structure)[3]
        if per.get(system, 0) < limit:
            per[system] = per.get(system, 0) + 1
            out.append(record)
    if random_fill:
        out += _random_fill(limit, seed, systems, per)
    return out


def _random_fill(limit, seed, systems, per):
    """Random crystals of the systems with fewer than ``limit``."""
    from diffpy.crystalnet.datasets.random_crystals import random_records
    from diffpy.crystalnet.physics.lattice import SPACE_GROUP_RANGES

    out = []
    for system in systems:
        short = limit - per.get(system, 0)
        if short <= 0:
            continue
        lo, hi = SPACE_GROUP_RANGES[system]
        groups = range(lo, hi + 1)
        for record in random_records(4 * short, seed, groups, max_atoms=20):
            if truth(record.structure)[3] != system:
                continue
            out.append(record)
            per[system] = per.get(system, 0) + 1
            if per[system] >= limit:
                break
    return out


def _profile(rng):
    """Random lab profile settings of one simulated pattern."""
    return dict(
        u=0.004,
        v=-0.002,
        w=0.0015,
        crystallite_size=float(rng.uniform(60, 300)),
        microstrain=3e-4,
        zero_shift=float(rng.uniform(-0.05, 0.05)),
        background=(260, -110, 45, -12),
        noise="poisson",
        seed=int(rng.integers(1 << 30)),
        intensity_max=float(rng.uniform(3e3, 3e4)),
        kalpha2=True,
    )


def _lab_pattern(structure, line, tth_range, rng, max_impurities):
    """A simulated lab pattern with 0 to ``max_impurities`` impurity lines.

    Each impurity line is a peak of the same profile (K-alpha doublet
    included) at a random angle between the first and the twentieth
    line of the structure (lines of at least 1 % of the strongest), 3 to
    15 % as high as the strongest peak; the counting noise is drawn after
    they are added.
    """
    from diffpy.crystalnet import simulate_pattern
    from diffpy.crystalnet.physics.broadening import add_noise, broaden_sticks
    from diffpy.crystalnet.physics.profiles import as_profile

    profile = _profile(rng)
    n_imp = int(rng.integers(0, max_impurities + 1))
    clean = simulate_pattern(
        structure, line, tth_range, profile={**profile, "noise": None}
    )
    y = clean.intensity.astype(float)
    if n_imp:
        sticks = simulate_pattern(structure, line + "1", tth_range)
        seen = sticks.y >= 0.01 * sticks.y.max()
        tth = np.sort(np.unique(np.round(sticks.x[seen], 3)))
        hi = tth[min(19, tth.size - 1)] if tth.size else tth_range[1]
        lo = tth[0] if tth.size else tth_range[0]
        prof = as_profile({**profile, "noise": None})
        top = float(profile["intensity_max"])
        # each line scaled to its own height
        for p, h in zip(
            rng.uniform(lo, hi, n_imp), rng.uniform(0.03, 0.15, n_imp)
        ):
            one = broaden_sticks(
                np.array([p]), np.ones(1), clean.x, prof, clean.wavelength
            )
            y += one * (h * top / max(one.max(), 1e-12))
    counts, sigma = add_noise(y, profile)
    from diffpy.crystalnet.physics.pattern import Pattern

    meta = dict(clean.metadata or {}, impurity_lines=n_imp)
    return Pattern(
        x=clean.x,
        intensity=counts,
        xtype=clean.xtype,
        wavelength=clean.wavelength,
        sigma=sigma,
        kind="profile",
        source="simulated profile",
        metadata=meta,
    )


def _scored(sols, ref, rtol, dt, err, record):
    """Result row: top-1, top-5, seconds, truth, solutions, error, record,
    and whether one of the first five has the structure's lattice (any
    label, :func:`same_lattice`)."""
    top1 = bool(sols) and is_right(sols[0], ref, rtol)
    anyw = any(is_right(s, ref, rtol) for s in sols[:5])
    lattice = anyw or any(same_lattice(s, ref, rtol) for s in sols[:5])
    return (top1, anyw, dt, ref, sols, err, record, lattice)


def _miss(row, label):
    """One line about a pattern whose first solution is wrong."""
    _, _, _, ref, sols, err, record = row[:7]
    got = sols[0].describe()[:90] if sols else f"refused ({err})"[:90]
    cell = " ".join(f"{v:.4f}" for v in ref[1])
    print(f"  miss {label} {record.id} {ref[2]} {cell}: {got}")


def run(args):
    from diffpy.crystalnet.index.indexing import IndexingError, index_pattern
    from diffpy.crystalnet.index.peak_search import find_peaks

    rng = np.random.default_rng(args.seed)
    setups = {"CuKa 10-90": ("CuKa", (10, 90)), "MoKa 5-60": ("MoKa", (5, 60))}
    if args.cu_only:
        setups.pop("MoKa 5-60")
    results = {k: [] for k in setups}
    systems = (
        ALL_SYSTEMS
        if args.systems == "all"
        else tuple(args.systems.split(","))
    )
    reference = _reference(args, systems)
    ref_results = {k: [] for k in setups}
    records = structures(
        args.limit, args.decorate, args.seed, systems, args.csv, args.random
    )
    print(f"{len(records)} structures ({', '.join(systems)})")
    for record in records:
        ref = truth(record.structure)
        for name, (line, rng_tt) in setups.items():
            pattern = _lab_pattern(
                record.structure, line, rng_tt, rng, args.impurities
            )
            t0 = time.perf_counter()
            peaks = find_peaks(pattern)
            try:
                sols = index_pattern(
                    peaks, systems=systems, max_peaks=args.max_peaks
                )
                err = None
            except IndexingError as exc:
                sols, err = [], str(exc)
            dt = time.perf_counter() - t0
            row = _scored(sols, ref, args.rtol, dt, err, record)
            results[name].append(row)
            _log(args.log, name, "ours", row)
            if args.verbose and not row[0]:
                _miss(row, name)
            if reference is not None:
                sols, err, dt = reference.index(peaks, args.max_peaks)
                row = _scored(sols, ref, args.rtol, dt, err, record)
                ref_results[name].append(row)
                _log(args.log, name, "reference", row)
                if args.verbose and not row[0]:
                    _miss(row, f"{name} (reference)")
    _summary(results, "")
    if reference is not None:
        _summary(ref_results, reference.title)


def _log(path, setup, who, row):
    """Append one result as a JSON line (``--log``), so that a run stopped
    early can still be summarised (``--summarise``)."""
    if not path:
        return
    import json

    top1, top5, dt, ref, sols, err, record, lattice = row
    with open(path, "a") as fh:
        fh.write(
            json.dumps(
                dict(
                    setup=setup,
                    who=who,
                    id=record.id,
                    system=ref[3],
                    symbol=ref[2],
                    top1=bool(top1),
                    top5=bool(top5),
                    lattice=bool(lattice),
                    refused=not sols,
                    seconds=dt,
                    found=sols[0].describe()[:120] if sols else None,
                )
            )
            + "\n"
        )


def summarise(path):
    """The summary tables of a ``--log`` file."""
    import json

    tables = {}
    for line in open(path):
        r = json.loads(line)
        ref = (None, None, r["symbol"], r["system"])
        row = (r["top1"], r["top5"], r["seconds"], ref)
        row += ([] if r["refused"] else [1], None, None, r["lattice"])
        tables.setdefault(r["who"], {}).setdefault(r["setup"], []).append(row)
    for who, results in tables.items():
        _summary(results, "" if who == "ours" else "reference")


def _summary(results, title):
    """Success rates and times per setup and crystal system."""
    if title:
        print(f"\n{title}")
    print(
        f"\n{'setup':12s} {'system':12s} {'n':>4s} {'top-1':>7s} "
        f"{'top-5':>7s} {'lattice':>8s} {'refused':>8s} {'median s':>9s} "
        f"{'max s':>7s}"
    )
    for name, rows in results.items():
        for fam in ALL_SYSTEMS + ("all",):
            sel = [r for r in rows if fam == "all" or r[3][3] == fam]
            if not sel:
                continue
            n = len(sel)
            top1 = sum(r[0] for r in sel) / n
            anyw = sum(r[1] for r in sel) / n
            lattice = sum(r[7] for r in sel) / n
            refused = sum(1 for r in sel if not r[4]) / n
            times = [r[2] for r in sel]
            print(
                f"{name:12s} {fam:12s} {n:4d} {top1:7.1%} {anyw:7.1%} "
                f"{lattice:8.1%} {refused:8.1%} "
                f"{statistics.median(times):9.2f} {max(times):7.2f}"
            )


# ---------------------------------------------------------------------------
# Reference: ObjCryst++ CellExplorer through pyobjcryst (optional)
# ---------------------------------------------------------------------------

#: CellExplorer lattices searched for each of our crystal systems, in FOX's
#: order (high to low symmetry): (our system, ObjCryst system, centrings)
_CX_LATTICES = (
    ("cubic", "CUBIC", "PIF"),
    ("tetragonal", "TETRAGONAL", "PI"),
    ("trigonal", "RHOMBOEDRAL", "P"),
    ("hexagonal", "HEXAGONAL", "P"),
    ("orthorhombic", "ORTHOROMBIC", "PIABCF"),
    ("monoclinic", "MONOCLINIC", "PCIA"),
    ("triclinic", "TRICLINIC", "P"),
)
#: ObjCryst crystal system -> ours (a rhombohedral cell is primitive)
_CX_SYSTEM = {
    "CUBIC": "cubic",
    "TETRAGONAL": "tetragonal",
    "RHOMBOEDRAL": "trigonal",
    "HEXAGONAL": "hexagonal",
    "ORTHOROMBIC": "orthorhombic",
    "MONOCLINIC": "monoclinic",
    "TRICLINIC": "triclinic",
}
#: FOX quick indexing: report score and depth, stop score and depth
_CX_DICVOL = (10.0, 4, 50.0, 6)
#: FOX quick indexing: volume estimates for kappa (observed line ratio)
_CX_KAPPA = (1.5, 0.4)
_CX_LENGTHS = (2.0, 25.0)
_CX_MAX_VOLUME = 5000.0
_CX_MAX_ANGLE = 140.0


@dataclass
class RefSolution:
    """A CellExplorer cell, standardised like ours (``is_right`` reads it)."""

    lattice: object
    system: str
    centring: str
    score: float
    found: str
    details: dict = field(default_factory=dict)

    def describe(self):
        a, b, c, al, be, ga = self.lattice.parameters
        return (
            f"{bravais(self.system, self.centring)} a={a:.4f} b={b:.4f} "
            f"c={c:.4f} al={al:.2f} be={be:.2f} ga={ga:.2f} "
            f"score={self.score:.1f} (CellExplorer {self.found})"
        )


def _reference(args, systems):
    """The reference indexer asked for, or None (says why in one line)."""
    if args.reference is None:
        return None
    try:
        import pyobjcryst
        import pyobjcryst.indexing  # noqa: F401
    except Exception as exc:  # not installed, or its C++ library is missing
        print(
            f"--reference cellexplorer: pyobjcryst cannot be imported "
            f"({type(exc).__name__}: {exc}); running without the reference"
        )
        return None
    return CellExplorerReference(
        systems,
        args.reference_error,
        args.reference_spurious,
        args.reference_timeout,
        getattr(pyobjcryst, "__version__", "?"),
    )


class CellExplorerReference:
    """ObjCryst++ ``CellExplorer`` (FOX quick indexing) on our peak list.

    Parameters
    ----------
    systems : sequence of str
        Our crystal systems; the CellExplorer lattices of ``_CX_LATTICES``
        for them are searched (trigonal: rhombohedral and hexagonal).
    error : float
        Half-width of each line's window, degrees 2-theta.
    spurious : int
        Also search allowing up to this many spurious lines (while nothing
        scores above the stop score).
    timeout : float
        Seconds after which a search is stopped (counted as refused).
    version : str
        pyobjcryst version, for the title.
    """

    def __init__(self, systems, error, spurious, timeout, version):
        wanted = set(systems)
        if "trigonal" in wanted:
            wanted.add("hexagonal")
        self.plan = [
            (cx, cents) for ours, cx, cents in _CX_LATTICES if ours in wanted
        ]
        self.error = float(error)
        self.spurious = int(spurious)
        self.timeout = float(timeout)
        self.title = (
            f"Reference: ObjCryst CellExplorer (pyobjcryst {version}), same "
            f"peaks, +-{self.error:g} deg windows, up to {self.spurious} "
            "spurious lines; times exclude the peak search"
        )

    def index(self, peaks, max_peaks):
        """Index the first ``max_peaks`` lines of ``peaks``.

        Returns
        -------
        solutions : list of RefSolution
            Best score first, duplicates dropped.
        error : str or None
            Why there is no solution (None when there is one).
        seconds : float
            Time of the CellExplorer search alone.
        """
        s, width = _cx_lines(peaks, max_peaks, self.error)
        if s.size < 3:
            return [], f"only {s.size} peak(s)", 0.0
        job = (s, width, self.plan, self.spurious)
        out = _in_child(_cx_search, job, self.timeout)
        if out is None:
            return [], f"timeout ({self.timeout:g} s)", self.timeout
        seconds, rows, err = out
        if err is not None:
            return [], err, seconds
        sols = _unique([_ref_solution(*row) for row in rows])
        return sols, (None if sols else "no solution"), seconds


def _cx_lines(peaks, max_peaks, error):
    """1/d of the lines index_pattern uses, and their full window widths."""
    q = np.asarray(peaks.q, dtype=float)
    ok = np.isfinite(q) & (q > 0)
    if peaks.two_theta is not None:
        ok &= np.isfinite(np.asarray(peaks.two_theta, dtype=float))
    q = np.sort(q[ok])[: int(max_peaks)]
    wavelength = peaks.wavelength or 1.5406  # Q without wavelength: Cu Ka1
    theta = np.arcsin(np.clip(q * wavelength / (4 * math.pi), 0, 1))
    # d(1/d) = cos(theta) d(2theta) / wavelength; window +-error
    width = 2 * np.cos(theta) * math.radians(error) / wavelength
    return q / (2 * math.pi), width


def _in_child(func, job, timeout):
    """``func(*job)`` in a forked process; None when it runs too long.

    A child that dies gives ``(0.0, [], "crashed ...")`` like a failed search.
    """
    import multiprocessing

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork (Windows): run here, without a time limit
        return func(*job)
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(func, job, send), daemon=True)
    proc.start()
    send.close()
    out = None
    if receive.poll(timeout):
        try:
            out = receive.recv()
        except EOFError:  # the child died (a crash in the C++ library)
            proc.join()
            out = (0.0, [], f"crashed (exit code {proc.exitcode})")
    if out is None:
        proc.kill()
    proc.join()
    receive.close()
    return out


def _child(func, job, send):
    """Run in the forked process; ObjCryst's console output is dropped."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        out = func(*job)
    except Exception as exc:  # report, do not hang the parent
        out = (0.0, [], f"{type(exc).__name__}: {exc}")
    send.send(out)
    send.close()


def _cx_search(s, width, plan, spurious):
    """FOX quick indexing with CellExplorer; (seconds, rows, error).

    ``s`` are the 1/d of the lines (ascending) and ``width`` the full widths
    of their windows in 1/d.  Each row is (a, b, c, alpha, beta, gamma,
    ObjCryst system, centring letter, score, spurious lines).
    """
    from pyobjcryst import indexing as ix

    started = time.perf_counter()
    d = 1 / s
    sigma_d = width * d * d  # ObjCryst turns it back into a 1/d width
    text = "".join(f"{x:.7f} {y:.7g} 1\n" for x, y in zip(d, sigma_d))
    peaks = ix.PeakList()
    peaks.ImportDhklDSigmaIntensity(io.BytesIO(text.encode()))
    explorer = ix.CellExplorer(peaks, ix.CrystalSystem.CUBIC, 0)
    explorer.SetAngleMinMax(math.radians(90), math.radians(_CX_MAX_ANGLE))
    explorer.SetLengthMinMax(*_CX_LENGTHS)
    # FOX: d*min/d*max of the volume estimate (no line below d*(1)/10)
    s_max, s_min, n = float(s[-1]), float(s[0]) / 10, len(s)
    stop = _CX_DICVOL[2]
    for n_spurious in range(spurious + 1):
        if explorer.GetBestScore() > stop:
            break
        explorer.SetNbSpurious(n_spurious)
        for name, cents in plan:
            if explorer.GetBestScore() > stop:
                break  # FOX: no lower symmetry once a cell scores > 50
            system = getattr(ix.CrystalSystem, name)
            for letter in cents:  # all centrings (FOX stops after P)
                cent = getattr(ix.CrystalCentering, "LATTICE_" + letter)
                v_min, v_max = (
                    ix.EstimateCellVolume(s_max, s_min, n, system, cent, k)
                    for k in _CX_KAPPA
                )
                v_max = min(v_max, _CX_MAX_VOLUME)
                if v_min >= v_max:
                    continue
                explorer.SetVolumeMinMax(v_min, v_max)
                explorer.SetCrystalSystem(system)
                explorer.SetCrystalCentering(cent)
                explorer.DicVol(*_CX_DICVOL, verbose=False)
    seconds = time.perf_counter() - started
    rows = []
    for cell, score in explorer.GetSolutions():
        a, b, c, al, be, ga, _ = cell.DirectUnitCell(False, True)
        rows.append(
            (a, b, c, al, be, ga, cell.lattice.name, cell.centering.name[-1])
            + (float(score), int(cell.nb_spurious))
        )
    rows.sort(key=lambda r: -r[8])
    return seconds, rows, None


def _ref_solution(a, b, c, al, be, ga, cx_system, letter, score, n_spurious):
    """A CellExplorer cell standardised as ``index_pattern`` does its own."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from diffpy.crystalnet.physics.lattice import CENTRING_POINTS

    system = _CX_SYSTEM[cx_system]
    lattice = Lattice.from_parameters(a, b, c, al, be, ga)
    points = CENTRING_POINTS[letter]
    found = f"{cx_system.lower()} {letter}"
    if n_spurious:
        found += f", {n_spurious} spurious"
    centring = "R" if cx_system == "RHOMBOEDRAL" else letter
    dummy = Structure(lattice, ["Cu"] * len(points), points)
    try:
        sga = SpacegroupAnalyzer(
            dummy, symprec=2e-3 * min(lattice.abc), angle_tolerance=0.3
        )
        lattice = sga.get_conventional_standard_structure().lattice
        system = sga.get_crystal_system()
        centring = sga.get_space_group_symbol()[0]
    except Exception:  # spglib failure: keep the cell as found
        pass
    return RefSolution(lattice, system, centring, score, found)


def _unique(sols):
    """Drop solutions equal (same lattice, cell) to a better one."""
    out = []
    for sol in sols:
        ref = (bravais(sol.system, sol.centring), sol.lattice.parameters)
        if not any(is_right(o, ref + (None, None), 1e-3) for o in out):
            out.append(sol)
    return out


def measured(items):
    from diffpy.crystalnet import load_pattern
    from diffpy.crystalnet.index.indexing import IndexingError, index_pattern

    for item in items:
        path, _, wl = item.rpartition(":")
        pattern = load_pattern(path, wavelength=wl or None)
        t0 = time.perf_counter()
        try:
            sols = index_pattern(pattern)
            text = sols[0].describe()
        except IndexingError as exc:
            text = f"refused: {exc.problem}"
        print(f"{path} ({time.perf_counter() - t0:.1f} s): {text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--decorate", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--measured", nargs="*", default=None)
    parser.add_argument(
        "--systems",
        default="cubic,trigonal",
        help="comma-separated crystal systems, or 'all'",
    )
    parser.add_argument(
        "--csv", nargs="+", default=None, help="CDVAE-format CSV tables"
    )
    parser.add_argument(
        "--random",
        action="store_true",
        help="fill systems short of --limit with random crystals (pyxtal)",
    )
    parser.add_argument(
        "--log", default=None, help="append every result to this JSONL file"
    )
    parser.add_argument(
        "--summarise",
        default=None,
        metavar="LOG",
        help="print the tables of a --log file and exit",
    )
    parser.add_argument(
        "--impurities",
        type=int,
        default=3,
        help="largest number of impurity lines per pattern (0 to this)",
    )
    parser.add_argument(
        "--cu-only", action="store_true", help="skip the Mo K-alpha setup"
    )
    parser.add_argument(
        "--max-peaks",
        type=int,
        default=20,
        help="lines indexed (the first ones), ours and the reference's",
    )
    parser.add_argument(
        "--reference",
        choices=("cellexplorer",),
        default=None,
        help="also index the same peaks with ObjCryst's CellExplorer "
        "(needs pyobjcryst)",
    )
    parser.add_argument(
        "--reference-error",
        type=float,
        default=0.06,
        help="half-width of the reference's line windows, deg 2-theta",
    )
    parser.add_argument(
        "--reference-spurious",
        type=int,
        default=2,
        help="spurious lines the reference may allow (tried in turn)",
    )
    parser.add_argument(
        "--reference-timeout",
        type=float,
        default=300.0,
        help="seconds before a reference search is stopped (refused)",
    )
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    if args.measured:
        measured(args.measured)
        return
    run(args)


if __name__ == "__main__":
    main()
