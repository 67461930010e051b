"""Load a measured pair distribution function into a
:class:`~diffpy.crystalnet.physics.pdf_data.PairDistribution`."""

import os

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats.gr import read_gr
from diffpy.crystalnet.physics.pdf_data import PairDistribution

__all__ = ["load_pdf"]


def _override(value, stated, name, metadata):
    if value is None:
        metadata[f"{name}_origin"] = "file" if stated is not None else None
        return stated
    if stated is not None and abs(float(value) - stated) > 1e-9:
        metadata[f"file_{name}"] = stated
    metadata[f"{name}_origin"] = "argument"
    return float(value) if name != "radiation" else value


def load_pdf(path, qmax=None, qdamp=None, radiation=None, composition=None):
    """Read a G(r) file (PDFgetX2/X3, PDFgetN, PDFgui, diffpy.utils).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.gr`` file.
    qmax, qdamp : float, optional
        Override what the header says (1/angstrom).
    radiation : {"X", "N"}, optional
        Override the radiation the header implies.
    composition : str, optional
        Override the composition the header states.

    Returns
    -------
    PairDistribution
        With ``source=str(path)``; ``metadata`` holds the header values and
        where each of Qmax, Qdamp and the radiation came from.

    Raises
    ------
    CrystalNetInputError
        For any problem with the file, naming it.

    Examples
    --------
    >>> data = load_pdf("Ni.gr")  # doctest: +SKIP
    >>> data.qmax, data.radiation  # doctest: +SKIP
    (40.0, 'X')
    """
    source = os.fspath(path)
    raw = read_gr(source)
    meta = dict(raw.metadata)
    if radiation is not None:
        radiation = str(radiation).upper()[:1]
        if radiation not in ("X", "N"):
            raise CrystalNetInputError(
                "radiation must be X (X-rays) or N (neutrons)", "radiation"
            )
    return PairDistribution(
        r=raw.r,
        g=raw.g,
        sigma=raw.dg,
        qmax=_override(qmax, meta.get("qmax"), "qmax", meta),
        qdamp=_override(qdamp, meta.get("qdamp"), "qdamp", meta),
        qbroad=meta.get("qbroad"),
        radiation=_override(
            radiation, meta.get("radiation"), "radiation", meta
        ),
        composition=composition or meta.get("composition"),
        source=source,
        metadata=meta,
    )
