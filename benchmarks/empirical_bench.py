"""Empirical pillar benchmarks, measured as ratios in one run (never as timed tests).

1. 16 MLPs on MNIST-1D (seeds x alpha values of one configuration): trained one by one with the
   pillar's loop (``train.train_epochs``) versus all at once as one stacked model
   (``batched.train_batched``). Same data, same initial weights, same batch orders; the final
   weights agree to float rounding, so only the time differs. Target: >= 5x on 2 CPU cores.
2. One epoch of the small CNN on the 60k Fashion-MNIST images: the pillar's weighted loop (ERM
   weights) versus a plain PyTorch loop a user would write. Target: parity (ratio near 1).

Usage: ``python benchmarks/empirical_bench.py [--threads N] [--write]`` (``--write`` appends a
section to benchmarks/RESULTS.md). Use ``--device cuda`` on a GPU machine.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from collective_action import Collective
from collective_action.empirical.batched import BatchedMLP, predict_batched, train_batched
from collective_action.empirical.data import load_fashion_mnist, load_mnist1d
from collective_action.empirical.models import build_model
from collective_action.empirical.signals import make_signal
from collective_action.empirical.train import OptimConfig, minibatches, predict, resolve_device, to_tensor, train_epochs


def bench_mlps(device, n_models=16, epochs=5, width=128, depth=2, batch_size=64, repeats=3):
    ds = load_mnist1d()
    alphas = [0.01, 0.02, 0.05, 0.1] * (n_models // 4)
    xs, ys = [], []
    for k, alpha in enumerate(alphas):  # 4 alpha values x 4 seeds: each model its own collective
        coll = Collective(alpha, 0, make_signal("patch", (40,), place=[0, 34], size=4, high=3.0, low=-3.0))
        x, y, _ = coll.plant_in_training_set(ds.x_train, ds.y_train, np.random.default_rng(k))
        xs.append(to_tensor(x, device))
        ys.append(to_tensor(y, device, torch.long))
    xs, ys = torch.stack(xs), torch.stack(ys)
    cfg = OptimConfig(lr=0.05, momentum=0.9, batch_size=batch_size, epochs=epochs)
    inits = []
    for k in range(n_models):
        torch.manual_seed(k)
        inits.append(build_model("mlp", (40,), 10, width, depth).to(device))
    ones = lambda losses, idx, epoch: torch.ones_like(losses)  # noqa: E731

    # Interleave the two sides and keep each side's fastest repeat: the cores are shared, and
    # the minimum is the timing least disturbed by other processes.
    loop_times, batched_times = [], []
    for _ in range(repeats):
        models = [copy.deepcopy(m) for m in inits]
        t0 = time.perf_counter()
        for k, model in enumerate(models):
            train_epochs(model, xs[k], ys[k], ones, cfg, torch.Generator().manual_seed(k))
        loop_times.append(time.perf_counter() - t0)
        batched = BatchedMLP.from_models(inits)
        t0 = time.perf_counter()
        train_batched(batched, xs, ys, cfg, [torch.Generator().manual_seed(k) for k in range(n_models)])
        batched_times.append(time.perf_counter() - t0)
    loop_s, batched_s = min(loop_times), min(batched_times)
    inits = models

    x_test, y_test = to_tensor(ds.x_test, device), to_tensor(ds.y_test, device, torch.long)
    acc_loop = float(np.mean([(predict(m, x_test) == y_test).float().mean().item() for m in inits]))
    acc_batched = float((predict_batched(batched, x_test, shared=True) == y_test).float().mean())
    return {"models": n_models, "epochs": epochs, "n": int(ys.shape[1]), "width": width, "depth": depth,
            "batch": batch_size, "loop_s": loop_s, "batched_s": batched_s, "ratio": loop_s / batched_s,
            "acc_loop": acc_loop, "acc_batched": acc_batched}


def bench_cnn_epoch(device, batch_size=128, repeats=2, data_dir=None):
    ds = load_fashion_mnist(data_dir)
    x, y = to_tensor(ds.x_train, device), to_tensor(ds.y_train, device, torch.long)
    cfg = OptimConfig(lr=0.05, momentum=0.9, batch_size=batch_size, epochs=1)
    timings = {"plain": [], "pillar": []}
    accs = {}
    for _ in range(repeats):
        for name in ("plain", "pillar"):  # interleaved, fastest repeat kept (shared cores)
            torch.manual_seed(0)
            model = build_model("cnn", (1, 28, 28), 10).to(device)
            gen = torch.Generator().manual_seed(0)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            if name == "plain":
                opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
                model.train()
                for idx in minibatches(len(y), batch_size, gen, device):
                    loss = F.cross_entropy(model(x[idx]), y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
            else:
                train_epochs(model, x, y, lambda losses, idx, epoch: torch.ones_like(losses), cfg, gen)
            if device.type == "cuda":
                torch.cuda.synchronize()
            timings[name].append(time.perf_counter() - t0)
            accs[name] = float((predict(model, to_tensor(ds.x_test, device)) ==
                                to_tensor(ds.y_test, device, torch.long)).float().mean())
    return {"plain": min(timings["plain"]), "pillar": min(timings["pillar"]), "plain_all": timings["plain"],
            "pillar_all": timings["pillar"], "plain_acc": accs["plain"], "pillar_acc": accs["pillar"],
            "ratio": min(timings["pillar"]) / min(timings["plain"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None,
                        help="folder of Fashion-MNIST's idx files (default: Debian's dataset-fashion-mnist)")
    parser.add_argument("--write", action="store_true", help="append a section to benchmarks/RESULTS.md")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the section")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    # the MNIST-1D paper's MLP has two hidden layers of 100; also one layer, and a wider one
    mlps = [bench_mlps(device, width=w, depth=d) for w, d in ((100, 1), (100, 2), (128, 2))]
    cnn = bench_cnn_epoch(device, data_dir=args.data_dir)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    hw = f"{platform.machine()}, {os.cpu_count()} cores" if device.type == "cpu" else torch.cuda.get_device_name()
    rows = "\n".join(
        f"| 40-{m['width']}x{m['depth']}-10 | {m['loop_s']:.2f} | {m['batched_s']:.2f} | **{m['ratio']:.1f}x** | "
        f"{m['acc_loop']:.4f} / {m['acc_batched']:.4f} |" for m in mlps)
    m0 = mlps[0]
    text = f"""
## empirical: batched MLPs and the CNN epoch ({when})

`python benchmarks/empirical_bench.py{' --threads ' + str(args.threads) if args.threads else ''}` on {hw}
(torch threads: {torch.get_num_threads()}, device {device}); load average at the end
{[round(v, 2) for v in os.getloadavg()]} (other work on the machine inflates both sides' times).

{m0['models']} MLPs on MNIST-1D ({m0['n']} points, {m0['epochs']} epochs, batch {m0['batch']}; 4 alphas x 4
seeds, each model its own collective), trained one by one with `train_epochs` versus at once
with `train_batched` (stacked weights; same data, initial weights and batch orders); fastest of
3 interleaved repeats per side. Target 5x.

| MLP | one by one (s) | batched (s) | ratio | mean test accuracy (loop / batched) |
|---|---|---|---|---|
{rows}

| one CNN epoch, 60k Fashion-MNIST, batch 128 | plain PyTorch loop | pillar loop (`train_epochs`, ERM weights) |
|---|---|---|
| wall time (s), fastest of {len(cnn['plain_all'])} | {cnn['plain']:.2f} (runs: {', '.join(f"{v:.2f}" for v in cnn['plain_all'])}) | {cnn['pillar']:.2f} (runs: {', '.join(f"{v:.2f}" for v in cnn['pillar_all'])}) |
| test accuracy after the epoch | {cnn['plain_acc']:.4f} | {cnn['pillar_acc']:.4f} |

Ratio (pillar / plain): **{cnn['ratio']:.2f}** (target: parity, 1.0).
"""
    if args.json:
        print(json.dumps({"when": when, "hardware": hw, "device": str(device), "torch_threads": torch.get_num_threads(),
                          "load_average": [round(v, 2) for v in os.getloadavg()], "mlps": mlps, "cnn_epoch": cnn}))
    else:
        print(text)
    if args.write:
        with open(Path(__file__).with_name("RESULTS.md"), "a") as fh:
            fh.write(text)


if __name__ == "__main__":
    from collective_action.errors import run_script

    run_script(main)
