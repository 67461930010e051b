"""Save and load CrystalNet checkpoints.

A checkpoint is a :func:`torch.save` file holding plain data only (dicts,
lists, str, numbers, bools, None and tensors), so it loads with
``torch.load(..., weights_only=True)``, which never executes code from the
file.  It contains::

    {"format": "diffpy.crystalnet.checkpoint", "format_version": 1,
     "package_version": "...", "config": {...CrystalNetConfig...},
     "model": state_dict, "optimizer": state_dict or None,
     "scheduler": state_dict or None, "extra": {...} or None}

The model config travels in the file, so :func:`load_model` rebuilds the
network without knowing its preset.  The random Fourier matrix ``B`` is a
buffer of the state dict and is restored exactly.
"""

import importlib.resources
import warnings
from pathlib import Path

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import atomic_output

__all__ = [
    "DEFAULT_MODEL_NAME",
    "default_model_path",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
]

FORMAT = "diffpy.crystalnet.checkpoint"
FORMAT_VERSION = 1
#: file name of the shipped model in ``diffpy/crystalnet/data/models``
DEFAULT_MODEL_NAME = "crystalnet-default.pt"


def _check_plain(value, where):
    """Raise TypeError unless ``value`` is weights_only-loadable data."""
    import torch

    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, torch.Tensor):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is not a str or int")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoints hold only dicts, "
        "lists, str, numbers, bools, None and tensors (convert numpy "
        "arrays with torch.as_tensor)"
    )


def save_checkpoint(
    path, model, optimizer=None, scheduler=None, extra=None, overwrite=True
):
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (conventionally ``*.pt``).
    model : diffpy.crystalnet.model.network.CrystalNet
        The network; its config is stored with the weights.
    optimizer : torch.optim.Optimizer, optional
        Stored for resuming training.
    scheduler : torch.optim.lr_scheduler.LRScheduler, optional
        Stored for resuming training.
    extra : dict, optional
        Plain data to store alongside (epoch, metrics, data provenance).
    overwrite : bool, optional
        If False, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import torch

    from diffpy.crystalnet.version import __version__

    path = Path(path)
    if path.exists() and not overwrite:
        raise CrystalNetInputError(
            "exists; refusing to overwrite it", source=path
        )
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": str(__version__),
        "config": model.config.to_dict(),
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "extra": extra,
    }
    _check_plain(payload, "checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path, map_location="cpu"):
    """Read and validate a checkpoint (safe: ``weights_only=True``).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_checkpoint`.
    map_location : str or torch.device, optional
        Where to put the tensors.

    Returns
    -------
    dict
        The checkpoint contents (see the module docstring).

    Raises
    ------
    CrystalNetInputError
        If the file is missing, unreadable, or not a CrystalNet checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CrystalNetInputError("checkpoint file not found", source=path)
    try:
        with warnings.catch_warnings():  # noise about foreign pickles
            warnings.filterwarnings("ignore", "Detected pickle protocol")
            payload = torch.load(
                path, map_location=map_location, weights_only=True
            )
    except Exception as error:  # corrupt, truncated or foreign file
        raise CrystalNetInputError(
            "not a readable CrystalNet checkpoint "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200]})",
            source=path,
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CrystalNetInputError(
            "not a CrystalNet checkpoint (no diffpy.crystalnet format tag)",
            source=path,
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CrystalNetInputError(
            f"checkpoint format version {version!r} is newer than this "
            f"diffpy.crystalnet supports ({FORMAT_VERSION}); upgrade it",
            source=path,
        )
    for key in ("config", "model"):
        if not isinstance(payload.get(key), dict):
            raise CrystalNetInputError(
                f"checkpoint has no {key!r} dictionary", source=path
            )
    return payload


def default_model_path():
    """Path of the shipped default model (which may not exist yet)."""
    root = importlib.resources.files("diffpy.crystalnet")
    return Path(str(root / "data" / "models" / DEFAULT_MODEL_NAME))


def load_model(path=None, map_location="cpu"):
    """Load a CrystalNet model in eval mode.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A checkpoint from :func:`save_checkpoint`.  Default: the model
        shipped in ``diffpy/crystalnet/data/models``.
    map_location : str or torch.device, optional
        Device for the weights.

    Returns
    -------
    diffpy.crystalnet.model.network.CrystalNet
        The network, in eval mode.

    Raises
    ------
    CrystalNetInputError
        If no model is shipped (``path=None``), or the file is missing,
        corrupt, foreign, or its weights do not fit its config.
    """
    from diffpy.crystalnet.model.config import CrystalNetConfig
    from diffpy.crystalnet.model.network import CrystalNet

    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise CrystalNetInputError(
                "no model shipped yet; train one with `diffpy.crystalnet "
                "train` and pass its checkpoint path",
                source=path,
            )
    payload = load_checkpoint(path, map_location=map_location)
    config = CrystalNetConfig.from_dict(payload["config"], source=str(path))
    model = CrystalNet(config)
    try:
        model.load_state_dict(payload["model"], strict=True)
    except RuntimeError as error:
        raise CrystalNetInputError(
            "weights do not fit the stored model config "
            f"({str(error).splitlines()[0][:200]})",
            source=path,
        ) from error
    model.to(map_location)
    return model.eval()
