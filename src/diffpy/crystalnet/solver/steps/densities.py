"""Step ``densities``: the electron densities to decode.

``samples`` latent samples of the network, queried on the grid of the CMED
cell, or the densities given to solve (e.g. the true density: the
decode-only ceiling).  Also starts the run's provenance record.
"""

import os
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["NAME", "load_network", "run"]

NAME = "densities"


def load_network(model):
    """The network and what to record of it.

    Parameters
    ----------
    model : str or os.PathLike or CrystalNet or None
        A checkpoint, a network, or None for the shipped model.

    Returns
    -------
    net : CrystalNet
    info : dict
        ``path``, ``sha256`` of the checkpoint and ``default``.
    """
    from diffpy.crystalnet.io.files import sha256_file
    from diffpy.crystalnet.model.checkpoint import (
        default_model_path,
        load_model,
    )

    if model is None or isinstance(model, (str, os.PathLike)):
        path = default_model_path() if model is None else Path(model)
        net = load_model(model)
        info = dict(
            path=str(path),
            sha256=sha256_file(path),
            default=model is None,
        )
        return net, info
    if hasattr(model, "predict_grid"):
        return model, dict(path=None, sha256=None, default=False)
    raise CrystalNetInputError(
        "model must be a checkpoint path or a CrystalNet, not "
        f"{type(model).__name__}",
        "model",
    )


def _precision_used(precision):
    from diffpy.crystalnet.model.precision import native_bfloat16

    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


def _provenance(state):
    from diffpy.crystalnet.version import __version__

    lattice_info = dict(state.lattices[0][1])
    if len(state.lattices) > 1:
        lattice_info["also_tried"] = [info for _, info in state.lattices[1:]]
    pattern = state.pattern
    return dict(
        pattern=str(pattern.source),
        wavelength=pattern.wavelength,
        wavelength_origin=pattern.metadata.get("wavelength_origin"),
        composition=state.formula,
        composition_given=state.composition is not None,
        lattice=lattice_info,
        grid=state.settings.sampling.grid,
        package_version=str(__version__),
    )


def run(state):
    """Set ``state.provenance``, ``state.grids``, ``state.grid_sources``."""
    provenance = state.provenance = _provenance(state)
    sampling = state.settings.sampling
    if state.given_densities is not None:
        grids = [np.asarray(g, dtype=float) for g in state.given_densities]
        for g in grids:
            if g.ndim != 3:
                raise CrystalNetInputError(
                    "each density must be a 3D grid", "densities"
                )
        sources = [f"given density {k + 1}" for k in range(len(grids))]
        provenance["model"] = None
        provenance["densities"] = "given"
        state.produced_by = "given density"
    else:
        net, info = load_network(sampling.model)
        provenance["model"] = info
        provenance["samples"] = int(sampling.samples)
        provenance["seed"] = sampling.seed
        pred = net.predict_grid(
            state.model_input.intensity,
            state.composition_vector,
            n=sampling.grid,
            samples=sampling.samples,
            seed=sampling.seed,
            mask=state.model_input.mask,
            precision=sampling.precision,
        )
        provenance["precision"] = _precision_used(sampling.precision)
        grids = [np.asarray(g, dtype=float) for g in pred]
        sources = [f"network sample {k + 1}" for k in range(len(grids))]
        state.produced_by = "network"
    state.grids, state.grid_sources = grids, sources
