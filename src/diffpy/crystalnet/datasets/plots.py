"""Pictures of dataset entries (pattern and density slices)."""

import numpy as np

from diffpy.crystalnet.io.files import atomic_output

__all__ = ["plot_entry"]


def plot_entry(data, index, path):
    """Write a PNG of one entry: model-input pattern and CMED slices.

    Parameters
    ----------
    data : diffpy.crystalnet.datasets.torch_dataset.CMEDDataset
        The dataset (``points=False`` is not required).
    index : int
        Item index in ``data``.
    path : str or os.PathLike
        PNG file, written atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffpy.crystalnet.physics.model_input import grid_two_theta

    entry = data.entry(
        index,
        (
            "pattern",
            "cmed",
            "formula",
            "spacegroup",
            "system",
            "id",
            "source",
            "lattice",
        ),
    )
    grid = entry["cmed"]
    n = grid.shape[0]
    fig = plt.figure(figsize=(12, 6.5), constrained_layout=True)
    top = fig.add_subplot(2, 1, 1)
    top.plot(grid_two_theta(), entry["pattern"], lw=0.8)
    top.set_xlabel("2θ (degrees, Mo Kα grid)")
    top.set_ylabel("intensity (max 1)")
    abc = np.linalg.norm(entry["lattice"], axis=1)
    top.set_title(
        f"{entry['formula']}  (space group {entry['spacegroup']}, "
        f"{entry['system']}; a, b, c = {abc[0]:.3f}, {abc[1]:.3f}, "
        f"{abc[2]:.3f} Å)  {entry['source']} {entry['id']}"
    )
    vmax = float(grid.max())
    for col, (name, image) in enumerate(
        (
            ("x = 0 slice", grid[0]),
            ("y = 0 slice", grid[:, 0]),
            ("z = 0 slice", grid[:, :, 0]),
            ("projection along c (mean)", grid.mean(axis=2)),
        )
    ):
        ax = fig.add_subplot(2, 4, 5 + col)
        shown = ax.imshow(
            image.T,
            origin="lower",
            extent=(0, 1, 0, 1),
            cmap="viridis",
            vmin=0,
            vmax=vmax if col < 3 else None,
        )
        ax.set_title(f"{name}, {n}³ grid", fontsize=9)
        fig.colorbar(shown, ax=ax, shrink=0.8, label="e/Å³")
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
