"""Benchmark: a DP-SGD epoch through ghost clipping (the pillar's) vs through stored per-point gradients.

Both sides train the same model on the same Poisson batches with the pillar's loop
(``empirical.train.train_epochs``), clip every point's gradient to norm C, add the same noise and
take the same SGD step; their parameters after the epoch are printed (equal to float rounding).
- baseline: Opacus's default mode (``PrivacyEngine``'s ``grad_sample_mode="hooks"``): a
  GradSampleModule stores every point's gradient of every layer, a DPOptimizer clips and sums them;
- pillar: Opacus's ghost clipping (``empirical/private.py``): per-point norms from activations and
  output gradients, a second backward pass on the clipped-weighted losses.
The pillar uses ghost clipping for models without convolutions only (the CNN rows say why).
A plain (non-private) SGD epoch of the same model and batches is the floor. The inputs are random
images of Fashion-MNIST's shape: the cost does not depend on their values. One torch thread;
medians of ``--repeats`` interleaved repeats; ratio = baseline time / pillar time.

    python benchmarks/dp_sgd_bench.py [--n 10000] [--repeats 5] [--quick] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import time

from results_log import append_run

MODELS = [("MLP 784-256-10", "mlp", 256), ("CNN (32 channels)", "cnn", 32)]


def _epoch(kind: str, width: int, x, y, side: str, batch_size: int):
    """Seconds of one epoch on ``side`` and the flattened parameters it ends with."""
    import torch

    from collective_action.empirical.models import build_model
    from collective_action.empirical.private import make_private, noise_generator, poisson_batches
    from collective_action.empirical.train import OptimConfig, train_epochs

    torch.manual_seed(0)
    model = build_model(kind, (1, 28, 28), 10, width=width)
    sgd = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    cfg = OptimConfig(epochs=1, batch_size=batch_size, lr=0.05, momentum=0.9)
    weigh = lambda losses, idx, epoch: torch.ones_like(losses)  # noqa: E731  (DP-SGD weighs every point one)
    run = dict(batches=poisson_batches)
    if side == "ghost clipping":
        private = make_private(model, sgd, max_grad_norm=1.0, noise_multiplier=1.0, batch_size=batch_size,
                               generator=torch.Generator().manual_seed(1), ghost=True)
        trained, run = private.model, dict(run, optimizer=private.optimizer, backward=private.backward)
    elif side == "per-point gradients":
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        trained = GradSampleModule(model)
        run["optimizer"] = DPOptimizer(sgd, noise_multiplier=1.0, max_grad_norm=1.0, expected_batch_size=batch_size,
                                       generator=noise_generator(torch.Generator().manual_seed(1), model))
    else:
        trained, run = model, dict(run, optimizer=sgd)
    t = time.perf_counter()
    train_epochs(trained, x, y, weigh, cfg, torch.Generator().manual_seed(2), **run)
    seconds = time.perf_counter() - t
    if hasattr(trained, "remove_hooks"):
        trained.remove_hooks()
    return seconds, torch.cat([p.detach().flatten() for p in model.parameters()])


def measure(n: int, repeats: int, quick: bool) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    rows = []
    for label, kind, width in (MODELS[:1] if quick else MODELS):
        sides = ("per-point gradients", "ghost clipping", "plain SGD")
        times = {s: [] for s in sides}
        params = {}
        _epoch(kind, width, x[:512], y[:512], "ghost clipping", 128)  # warm-up: imports, first allocations
        for _ in range(repeats):  # interleaved, so a slow moment of the machine hits every side
            for side in sides:
                seconds, params[side] = _epoch(kind, width, x, y, side, 128)
                times[side].append(seconds)
        med = {s: statistics.median(v) for s, v in times.items()}
        diff = (params["ghost clipping"] - params["per-point gradients"]).abs().max().item()
        rows.append({"model": label, "n": n, **med, "ratio": med["per-point gradients"] / med["ghost clipping"],
                     "max_param_difference": diff})
    return rows


def table(rows) -> str:
    lines = ["| model | points | per-point gradients (s) | ghost clipping (s) | plain SGD (s) | ratio | "
             "largest parameter difference |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['n']} | {r['per-point gradients']:.2f} | {r['ghost clipping']:.2f} | "
              f"{r['plain SGD']:.2f} | **{r['ratio']:.1f}x** | {r['max_param_difference']:.1e} |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="training points of the epoch")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median reported)")
    ap.add_argument("--quick", action="store_true", help="the MLP only")
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args()
    if args.repeats < 1 or args.n < 128:
        ap.error("--repeats must be at least 1 and --n at least 128")
    out = table(measure(args.n, args.repeats, args.quick))
    print(out)
    if args.write:
        append_run("DP-SGD: ghost clipping vs stored per-point gradients", "python benchmarks/dp_sgd_bench.py"
                   + (" --quick" if args.quick else ""), f"one torch thread, medians of {args.repeats} interleaved "
                   f"repeats, {args.n} points", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
