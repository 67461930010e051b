"""Training, data-loading, inference and evaluation speed of CrystalNet.

Usage::

    python benchmarks/bench_training.py [--data DATASET] [--threads T]
    python benchmarks/bench_training.py --compare-losses --data DATASET \
        --minutes 8 --out /tmp/losses

Measures, on this machine and in this run:

* dense float32 matmul rate (GFLOP/s, 1024^2 x 1024), the reference for
* training throughput of the ``cpu`` preset (query points/s, batch of 32
  crystals x 512 points, forward + backward + Adam) and its FLOP rate as a
  share of the matmul rate (FLOPs counted by torch's FlopCounterMode);
* data-loader milliseconds per item with augmentation (from ``--data``),
  and the lab augmentation against the reference path it replaces (a fine
  0.01-deg profile built with :func:`~diffpy.crystalnet.physics.profiles.
  broaden_sticks` then binned by :func:`~diffpy.crystalnet.physics.model_input.
  pattern_to_model_input`);
* inference time of one 50^3 grid;
* peak resident memory of CPU training with the ``cpu`` preset (child
  process, 3 steps; goal <= 8 GB) at the default batch and at the paper's
  128 x 1000;
* evaluation seconds per crystal: 5 samples x 24 rotations scoring
  (vectorised) against the loop over :func:`~diffpy.crystalnet.model.metrics.
  best_over_rotations`, and a full :func:`~diffpy.crystalnet.model.evaluate.
  evaluate` per crystal.

``os.getloadavg()`` is printed with the results: other jobs on a shared
machine slow every number here.

``--compare-losses`` trains the cpu preset for ``--minutes`` with the
published L1 and with MSE on log1p (same data, seed, batch) through the
command line, evaluates both ``best.pt`` on the validation split with the
baselines, and prints the two tables.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def timeit(fn, repeat=5, warmup=1, best=False):
    """Median (or best) wall time of ``fn`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.min(times) if best else np.median(times))


def matmul_rate():
    import torch

    a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
    seconds = timeit(lambda: a @ b, repeat=20, warmup=3, best=True)
    return 2 * 1024**3 / seconds / 1e9


def synthetic_batch(batch, points, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    comp = torch.rand(batch, 118, generator=g)
    return dict(
        pattern=torch.rand(batch, 1024, generator=g),
        mask=torch.ones(batch, 1024),
        composition=comp / comp.sum(1, keepdim=True),
        points=torch.rand(batch, points, 3, generator=g),
        values=torch.rand(batch, points, generator=g) * 5,
    )


def training_step_fn(model, optimizer, b):
    from diffpy.crystalnet.model.losses import crystalnet_loss

    transform = model.target_transform()

    def step():
        out = model(b["pattern"], b["composition"], b["points"], b["mask"])
        terms = crystalnet_loss(out, transform(b["values"]), "mse", 0.05)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    return step


def bench_training(batch=32, points=512):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from diffpy.crystalnet.model.network import CrystalNet

    torch.manual_seed(0)
    model = CrystalNet("cpu").train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    b = synthetic_batch(batch, points)
    step = training_step_fn(model, optimizer, b)
    seconds = timeit(step, repeat=5, warmup=2, best=True)
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    flops = counter.get_total_flops()
    return {
        "step_s": seconds,
        "points_per_s": batch * points / seconds,
        "gflop_per_step": flops / 1e9,
        "gflop_per_s": flops / seconds / 1e9,
    }


def bench_inference(n=50):
    import torch

    from diffpy.crystalnet.model.network import CrystalNet

    torch.manual_seed(0)
    model = CrystalNet("cpu").eval()
    pattern = np.random.default_rng(0).random(1024)
    comp = np.zeros(118)
    comp[[10, 16]] = 0.5
    one = timeit(
        lambda: model.predict_grid(pattern, comp, n=n, samples=1), repeat=3
    )
    five = timeit(
        lambda: model.predict_grid(pattern, comp, n=n, samples=5), repeat=2
    )
    return {"grid_50_1_sample_s": one, "grid_50_5_samples_s": five}


def bench_loader(data, items=200):
    from diffpy.crystalnet.datasets.augment import (
        PatternAugmenter,
        lab_augment,
    )
    from diffpy.crystalnet.datasets.composition_prior import CompositionPrior
    from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset
    from diffpy.crystalnet.physics.broadening import broaden_sticks
    from diffpy.crystalnet.physics.model_input import pattern_to_model_input
    from diffpy.crystalnet.physics.pattern import Pattern
    from diffpy.crystalnet.physics.profiles import Profile

    plain = CMEDDataset(data, "train", strata=8)
    aug = CMEDDataset(
        data, "train", strata=8, augment=PatternAugmenter(),
        composition=CompositionPrior(),
    )  # fmt: skip
    n = min(items, len(plain))

    def run(ds):
        for i in range(n):
            ds[i]

    run(plain)  # warm the file handles
    out = {
        "items": n,
        "plain_ms_per_item": timeit(lambda: run(plain), 3, 0) / n * 1e3,
        "augmented_ms_per_item": timeit(lambda: run(aug), 3, 0) / n * 1e3,
    }
    entries = [
        plain.entry(i, ("sticks_q", "sticks_intensity"))
        for i in range(min(n, 50))
    ]
    rng = np.random.default_rng(0)
    fast = timeit(lambda: [lab_augment(e, rng) for e in entries], 3, 1)
    fine = np.arange(5.0, 120.0, 0.01)

    def reference():
        for e in entries:
            q = e["sticks_q"]
            s = q * 1.54056 / (4 * np.pi)
            t = 2 * np.degrees(np.arcsin(s[s < 1]))
            y = broaden_sticks(
                t, e["sticks_intensity"][s < 1], fine, Profile(w=0.004)
            )
            pattern_to_model_input(
                Pattern(fine, y + 1e-3, wavelength=1.54056), background=None
            )

    ref = timeit(reference, 3, 1)
    out["lab_augment_ms"] = fast / len(entries) * 1e3
    out["reference_profile_ms"] = ref / len(entries) * 1e3
    out["speedup_vs_reference"] = ref / fast
    return out


def bench_memory(batch, points, steps=3):
    code = f"""
import resource, torch
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from bench_training import synthetic_batch, training_step_fn
from diffpy.crystalnet.model.network import CrystalNet
torch.manual_seed(0)
m = CrystalNet("cpu").train()
o = torch.optim.Adam(m.parameters(), 1e-3)
step = training_step_fn(m, o, synthetic_batch({batch}, {points}))
for _ in range({steps}):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    if out.returncode:
        return {"error": out.stderr[-500:]}
    return {"peak_rss_gb": int(out.stdout.split()[-1]) / 1024**2}


def bench_evaluation(data=None):
    from diffpy.crystalnet.model.evaluate import evaluate
    from diffpy.crystalnet.model.metrics import best_over_rotations, ssim3d
    from diffpy.crystalnet.model.scoring import score_candidates

    rng = np.random.default_rng(0)
    truth = rng.random((50, 50, 50)) ** 8 * 50
    preds = rng.random((5, 50, 50, 50)).astype(np.float32)
    fast = timeit(lambda: score_candidates(preds, truth), 3, 1)
    loop = timeit(
        lambda: [best_over_rotations(p, truth, ssim3d) for p in preds], 1, 0
    )
    out = {
        "score_5x24_s": fast,
        "reference_loop_5x24_s": loop,
        "speedup": loop / fast,
    }
    if data:
        import torch

        from diffpy.crystalnet.model.network import CrystalNet

        torch.manual_seed(0)
        model = CrystalNet("cpu").eval()
        result = evaluate(
            data, split="test", model=model, samples=5, grid=50, limit=3,
            progress=False,
        )  # fmt: skip
        out["evaluate_s_per_crystal"] = result["seconds_per_crystal"]
    return out


def _run_together(commands, threads, what):
    """Run the commands side by side (same load for each) and wait."""
    procs = []
    for cmd in commands:
        if threads:
            cmd = [*cmd, "--threads", str(threads)]
        print("$", " ".join(cmd), flush=True)
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
    if any([proc.wait() for proc in procs]):
        raise SystemExit(f"{what} failed")


def compare_losses(data, minutes, out, threads, steps, samples, grid, limit):
    """Train both losses side by side (same wall time), then evaluate."""
    out = Path(out)
    commands = []
    for loss in ("l1", "mse-log1p"):
        run = out / f"run-{loss}"
        cmd = [
            "diffpy.crystalnet", "train", "--data", str(data), "--out",
            str(run), "--preset", "cpu", "--loss", loss, "--max-minutes",
            str(minutes), "--steps", str(steps), "--val-every", "40",
            "--seed", "0", "--quiet", "--force",
        ]  # fmt: skip
        commands.append(cmd)
    _run_together(commands, threads, "training")
    commands = []
    for loss in ("l1", "mse-log1p"):
        cmd = [
            "diffpy.crystalnet", "evaluate", "--data", str(data), "--split",
            "val", "--model", str(out / f"run-{loss}" / "best.pt"),
            "--samples", str(samples), "--grid", str(grid), "--limit",
            str(limit), "--modes", "full,elements,drop,none", "--out",
            str(out / f"eval-{loss}"), "--quiet", "--force",
        ]  # fmt: skip
        commands.append(cmd)
    _run_together(commands, threads, "evaluation")
    results = {}
    for loss in ("l1", "mse-log1p"):
        print(f"## loss {loss}")
        log = (out / f"run-{loss}" / "log.csv").read_text().splitlines()
        print("training log (first, last rows):")
        print("\n".join([log[0], log[1], *log[-3:]]))
        print((out / f"eval-{loss}" / "evaluation.md").read_text())
        results[loss] = json.loads(
            (out / f"eval-{loss}" / "evaluation.json").read_text()
        )["summary"]
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="dataset folder (loader, evaluate)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compare-losses", action="store_true")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--steps", type=int, default=240)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--grid", type=int, default=25)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compare_losses:
        if not args.data:
            parser.error("--compare-losses needs --data")
        out = args.out or tempfile.mkdtemp(prefix="crystalnet-losses-")
        compare_losses(
            args.data, args.minutes, out, args.threads, args.steps,
            args.samples, args.grid, args.limit,
        )  # fmt: skip
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(load())
    rate = matmul_rate()
    print(f"dense matmul: {rate:.1f} GFLOP/s (best of 20)")
    tr = bench_training()
    print(
        f"training (cpu preset, 32 x 512, best of 5): "
        f"{tr['step_s']:.3f} s/step, "
        f"{tr['points_per_s']:.0f} points/s, {tr['gflop_per_step']:.1f} "
        f"GFLOP/step, {tr['gflop_per_s']:.1f} GFLOP/s = "
        f"{tr['gflop_per_s'] / rate:.0%} of the matmul rate"
    )
    print(load())
    inf = bench_inference()
    print(
        f"inference 50^3: {inf['grid_50_1_sample_s']:.2f} s (1 sample), "
        f"{inf['grid_50_5_samples_s']:.2f} s (5 samples)"
    )
    if args.data:
        ld = bench_loader(args.data)
        print(
            f"loader ({ld['items']} items): {ld['plain_ms_per_item']:.2f} "
            f"ms/item plain, {ld['augmented_ms_per_item']:.2f} ms/item "
            f"augmented; lab augmentation {ld['lab_augment_ms']:.2f} ms vs "
            f"reference fine profile {ld['reference_profile_ms']:.2f} ms "
            f"({ld['speedup_vs_reference']:.0f}x); a training step takes "
            f"{tr['step_s'] / 32 * 1e3:.1f} ms per crystal"
        )
    if not args.skip_memory:
        for batch, points in ((32, 512), (128, 1000)):
            mem = bench_memory(batch, points)
            print(f"peak RSS, cpu preset training {batch} x {points}: {mem}")
    ev = bench_evaluation(args.data)
    text = ", ".join(f"{k} {v:.2f}" for k, v in ev.items())
    print(f"evaluation: {text}")
    print(load())


if __name__ == "__main__":
    main()
