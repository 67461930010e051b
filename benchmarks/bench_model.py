"""Size and speed of the CrystalNet network on this machine.

Reports, with ``torch.set_num_threads(threads)``:

* parameters per preset (total and per query point),
* the machine's dense float32 matmul rate (GFLOP/s),
* training throughput of the ``cpu`` preset (query points/s for forward,
  backward and Adam step at 32 crystals x 512 points), the FLOPs of that
  step (counted by ``torch.utils.flop_counter`` and estimated as
  6 x per-point parameters x points) and the share of the matmul rate it
  reaches,
* the same step with the published per-point FiLM (the fusion MLPs run on
  every query point, as in the authors' code) as the reference, and the
  speed-up of computing FiLM once per crystal,
* ``predict_grid`` time for a 50^3 grid with 1 and 5 latent samples,
* peak resident memory of a training step (VmHWM, or ``getrusage`` maxrss,
  of a fresh subprocess),
* the load average, since other processes may share the cores.

Usage::

    python benchmarks/bench_model.py [--threads 2] [--steps 8] [--paper]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from diffpy.crystalnet.model.config import N_BINS, N_ELEMENTS, PRESETS
from diffpy.crystalnet.model.losses import crystalnet_loss
from diffpy.crystalnet.model.network import CrystalNet


def batch(b, p, seed=0):
    gen = torch.Generator().manual_seed(seed)
    pattern = torch.rand(b, N_BINS, generator=gen)
    composition = torch.rand(b, N_ELEMENTS, generator=gen)
    composition /= composition.sum(dim=1, keepdim=True)
    points = torch.rand(b, p, 3, generator=gen)
    target = torch.rand(b, p, generator=gen)
    return pattern, composition, points, target


def per_point_parameters(model):
    modules = (model.positional, model.regressor)
    return sum(p.numel() for m in modules for p in m.parameters())


def matmul_gflops(n=2048, repeats=10):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    seconds = (time.perf_counter() - start) / repeats
    return 2 * n**3 / seconds / 1e9


def reference_forward(model, pattern, composition, points):
    """The published data flow: FiLM MLPs evaluated for every point."""
    from diffpy.crystalnet.model.losses import gaussian_kl

    enc = model.encode(pattern, composition)
    b, p, _ = points.shape
    z = enc.z.repeat_interleave(p, dim=0)  # (B*P, 2 latent)
    gamma, beta = model.film_gamma(z), model.film_beta(z)
    pos = model.positional(points.reshape(-1, 3))
    density = model.regressor(gamma * pos + beta).reshape(b, p)
    return {
        "density": density,
        "kl_xrd": gaussian_kl(enc.mu_xrd, enc.logvar_xrd),
        "kl_formula": gaussian_kl(enc.mu_formula, enc.logvar_formula),
    }


def train_step_fn(model, data, reference=False):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    pattern, composition, points, target = data
    forward = reference_forward if reference else CrystalNet.forward

    def step():
        out = forward(model, pattern, composition, points)
        loss = crystalnet_loss(out, target, kind="mse")["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def time_steps(step, steps):
    """Median seconds per call (robust to other processes on the cores)."""
    step()  # warm up (allocations, Adam state)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def counted_flops(step):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def memory_only(preset, b, p):
    """Run in a fresh process: maxrss before and after one train step."""
    torch.manual_seed(0)
    model = CrystalNet(preset).train()
    step = train_step_fn(model, batch(b, p))
    before = peak_rss_kib()
    step()
    step()
    print(before, peak_rss_kib())


def peak_rss_kib():
    """Peak resident memory of this process in KiB.

    ``VmHWM`` of /proc/self/status where available: ``getrusage`` maxrss
    also counts the parent's resident memory at fork (Linux folds the old
    address space's high-water mark into it at exec).
    """
    try:
        with open("/proc/self/status") as stream:
            for line in stream:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--crystals", type=int, default=32)
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--paper", action="store_true", help="time paper")
    parser.add_argument("--memory-only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_only:
        memory_only(args.memory_only, args.crystals, args.points)
        return
    b, p = args.crystals, args.points
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, ")
    print(f"load average at start: {os.getloadavg()}")

    print("\n== parameters ==")
    for name in PRESETS:
        model = CrystalNet(name)
        print(
            f"{name:6s} total {model.num_parameters():>11,d}   "
            f"per query point {per_point_parameters(model):>10,d}"
        )

    print("\n== dense float32 matmul (2048^3) ==")
    peak = matmul_gflops()
    print(f"{peak:.1f} GFLOP/s")

    presets = ["cpu"] + (["paper"] if args.paper else [])
    for name in presets:
        torch.manual_seed(0)
        model = CrystalNet(name).train()
        data = batch(b, p)
        n_points = b * p
        steps = args.steps if name == "cpu" else max(2, args.steps // 4)
        print(f"\n== training step, {name}, {b} crystals x {p} points ==")
        mem = subprocess.run(
            [
                sys.executable, __file__, "--memory-only", name,
                "--threads", str(args.threads), "--crystals", str(b),
                "--points", str(p),
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        before, after = (int(x) for x in mem.stdout.split())
        print(
            f"peak RSS (fresh process): {after / 1024:.0f} MiB after two "
            f"steps ({before / 1024:.0f} MiB after building the model)"
        )

        ours = train_step_fn(model, data)
        flops = counted_flops(ours)
        estimate = 6 * per_point_parameters(model) * n_points
        seconds = time_steps(ours, steps)
        rate = flops / seconds / 1e9
        print(
            f"film once per crystal: {seconds * 1e3:.0f} ms/step, "
            f"{n_points / seconds:,.0f} points/s"
        )
        print(
            f"  counted {flops / 1e9:.1f} GFLOP/step (6 x per-point params "
            f"x points = {estimate / 1e9:.1f}), {rate:.1f} GFLOP/s "
            f"= {rate / peak:.0%} of matmul rate"
        )
        ref = train_step_fn(model, data, reference=True)
        ref_flops = counted_flops(ref)
        ref_seconds = time_steps(ref, max(2, steps // 4))
        print(
            f"published per-point FiLM: {ref_seconds * 1e3:.0f} ms/step, "
            f"{n_points / ref_seconds:,.0f} points/s, "
            f"{ref_flops / 1e9:.1f} GFLOP/step"
        )
        speedup = ref_seconds / seconds
        print(f"  speed-up of once-per-crystal FiLM: {speedup:.2f}x")
        print(f"\n== predict_grid, {name}, 50^3 grid ==")
        pattern, composition = data[0][0], data[1][0]
        model.eval()
        for samples in (1, 5):
            model.predict_grid(pattern, composition, n=10, samples=samples)
            start = time.perf_counter()
            grid = model.predict_grid(
                pattern, composition, n=50, samples=samples, seed=0
            )
            seconds = time.perf_counter() - start
            print(
                f"{samples} sample(s): {seconds:.2f} s "
                f"({grid.size / seconds:,.0f} points/s)"
            )
        # bfloat16 autocast of the point queries against float32, same run
        from diffpy.crystalnet.model.precision import native_bfloat16

        start = time.perf_counter()
        fast = model.predict_grid(
            pattern, composition, n=50, samples=5, seed=0, precision="bfloat16"
        )
        bf16 = time.perf_counter() - start
        r = np.corrcoef(grid.ravel(), fast.ravel())[0, 1]
        print(
            f"5 samples, bfloat16: {bf16:.2f} s, {seconds / bf16:.2f}x the "
            f"float32 speed (native bfloat16: {native_bfloat16()}); "
            f"Pearson r with float32 {r:.5f}, max |diff| "
            f"{np.abs(grid - fast).max() / grid.max():.1%} of the maximum"
        )
    print(f"\npeak RSS of this benchmark: {peak_rss_kib() / 1024:.0f} MiB")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
