"""Arithmetic precision of CrystalNet's point queries.

:func:`native_bfloat16` tells whether this CPU computes bfloat16 matrix
products natively, and :func:`precision_autocast` turns a precision name
(``"float32"``, ``"bfloat16"`` or ``"auto"``) into an autocast context.
"""

import contextlib

import torch

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["native_bfloat16", "precision_autocast"]


def native_bfloat16():
    """Whether this CPU computes bfloat16 matrix products natively.

    True on x86 CPUs with AVX512-BF16 or AMX-BF16 (read from
    ``/proc/cpuinfo``; False where that file does not exist).

    Returns
    -------
    bool
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


def precision_autocast(precision, device):
    """Autocast context of a ``precision`` name (float32: none).

    Parameters
    ----------
    precision : {"float32", "bfloat16", "auto"}
        float32 (no autocast), bfloat16 autocast, or ``"auto"``: bfloat16
        on CUDA and where the CPU computes it natively
        (:func:`native_bfloat16`), else float32.
    device : str or torch.device
        The device the computation runs on.

    Returns
    -------
    contextlib.AbstractContextManager
        :func:`torch.autocast` to bfloat16, or a null context.

    Raises
    ------
    CrystalNetInputError
        For an unknown precision name.
    """
    if precision not in ("float32", "bfloat16", "auto"):
        raise CrystalNetInputError(
            "must be float32, bfloat16 or auto, not " f"{precision!r}",
            "precision",
        )
    kind = torch.device(device).type
    if precision == "auto":
        native = kind == "cuda" or native_bfloat16()
        precision = "bfloat16" if native else "float32"
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(kind, dtype=torch.bfloat16)
