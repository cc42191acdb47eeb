"""Supernet training benchmark on the embedded digits data set with the compact `cifar` space (CPU).

Reports, side by side: supernet training time per epoch; top-1 of the min and max subnets after
training (BN recalibrated); and, over N subnets spread over the space's FLOPs range, the Kendall
tau between inherited-weight top-1 (after BN recalibration) and stand-alone top-1 (each subnet
trained from scratch on the same data for a few epochs). The stand-alone runs go in a second
process alongside the supernet training (each process uses --threads torch threads).

    .venv/bin/python benchmarks/supernet_training.py --out runs/bench-supernet

Writes OUT/results.json, OUT/standalone.json, OUT/kendall.png and OUT/train/ (the training run).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "experiments" / "digits-cpu.yaml"


def pick_subnets(space: Any, n: int, seed: int) -> list[Any]:
    """min, max and n-2 random subnets at evenly spaced FLOPs quantiles of 400 samples."""
    from edgenas.search.flops import count_flops_params

    rng = np.random.default_rng(seed)
    pool = {a.arch_id: a for a in (space.sample(rng) for _ in range(400))}
    archs = sorted(pool.values(), key=lambda a: count_flops_params(space, a, 10)[0])
    picks = [archs[int(round(q * (len(archs) - 1)))] for q in np.linspace(0.05, 0.95, n - 2)]
    return [space.min_arch(), *picks, space.max_arch()]


def train_standalone(space: Any, arch: Any, args: argparse.Namespace) -> float:
    """Train ``arch`` from scratch (same data, augmentation, SGD + cosine, smoothed CE); val top-1
    after the same BN recalibration as the inherited weights get (a short run's running stats lag)."""
    from edgenas.search.calibrate import recalibrate_bn
    from edgenas.search.data import load_dataset, make_loader
    from edgenas.search.losses import smoothed_cross_entropy
    from edgenas.search.static import build_static
    from edgenas.search.train import input_batches, param_groups, resize, top1, warmup_cosine

    res = max(space.resolutions)
    train = load_dataset("digits", "train", res, augment=True)
    val = load_dataset("digits", "val", res)
    torch.manual_seed(args.seed)
    net = build_static(space, arch, 10)
    loader = make_loader(train.dataset, args.batch_size, True, args.seed, drop_last=True)
    steps = args.standalone_epochs * len(loader)
    opt = torch.optim.SGD(param_groups(net, 5e-5), lr=args.standalone_lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(steps, len(loader) // 2, 0.01))
    net.train()
    for _ in range(args.standalone_epochs):
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            smoothed_cross_entropy(net(resize(x, arch.resolution)), y, 0.1).backward()
            opt.step()
            sched.step()
    calib = make_loader(load_dataset("digits", "train", res).dataset, args.batch_size, True, args.seed,
                        drop_last=True)
    recalibrate_bn(net, input_batches(calib, arch.resolution, torch.device("cpu")), args.calib_batches)
    return top1(net, make_loader(val.dataset, 256, False, 0), arch.resolution, torch.device("cpu"))


def standalone_phase(args: argparse.Namespace) -> None:
    from edgenas.runtime._io import atomic_write_json
    from edgenas.search.spaces import load_space

    space = load_space("cifar")
    rows = []
    for i, arch in enumerate(pick_subnets(space, args.subnets, args.seed)):
        start = time.perf_counter()
        acc = train_standalone(space, arch, args)
        rows.append({"arch_id": arch.arch_id, "arch": arch.to_dict(), "standalone_top1": acc,
                     "train_s": time.perf_counter() - start})
        print(f"[standalone {i + 1}/{args.subnets}] {arch.arch_id} top-1 {acc:.2f}% "
              f"({rows[-1]['train_s']:.0f} s)", file=sys.stderr, flush=True)
        atomic_write_json(args.out / "standalone.json", rows)


def train_phase(args: argparse.Namespace) -> dict[str, Any]:
    from edgenas.search.train_config import resolve
    from edgenas.search.train_run import run_training

    cfg = resolve({"epochs": args.epochs, "out": str(args.out / "train"), "threads": args.threads,
                   "seed": args.seed, "batch_size": args.batch_size, "eval_every": 0, "progress": False,
                   "device": "cpu", "lr": args.lr}, str(CONFIG), {})
    start = time.perf_counter()
    last = run_training(cfg)
    rows = [json.loads(x) for x in (args.out / "train" / "log.jsonl").read_text().splitlines()]
    return {"last": last, "epoch_times_s": [r["epoch_time_s"] for r in rows], "wall_s": time.perf_counter() - start,
            "config": cfg.to_dict()}


def inherited(args: argparse.Namespace) -> list[dict[str, Any]]:
    from edgenas.search.checkpoint import load_supernet_weights
    from edgenas.search.data import load_dataset, make_loader
    from edgenas.search.flops import count_flops_params
    from edgenas.search.train import inherited_accuracy

    net, _ = load_supernet_weights(args.out / "train" / "supernet.pt", "cifar")
    res = max(net.space.resolutions)
    calib = make_loader(load_dataset("digits", "train", res).dataset, args.batch_size, True, args.seed,
                        drop_last=True)
    val = make_loader(load_dataset("digits", "val", res).dataset, 256, False, 0)
    rows = []
    for arch in pick_subnets(net.space, args.subnets, args.seed):
        acc = inherited_accuracy(net, arch, calib, val, args.calib_batches, torch.device("cpu"))
        rows.append({"arch_id": arch.arch_id, "mflops": count_flops_params(net.space, arch, 10)[0] / 1e6,
                     "inherited_top1": acc})
    return rows


def plot(rows: list[dict[str, Any]], tau: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    sc = ax.scatter([r["standalone_top1"] for r in rows], [r["inherited_top1"] for r in rows],
                    c=[r["mflops"] for r in rows], cmap="viridis")
    fig.colorbar(sc, label="MFLOPs (MACs)")
    ax.set_xlabel("stand-alone top-1 (%)")
    ax.set_ylabel("inherited top-1, BN recalibrated (%)")
    ax.set_title(f"digits / cifar space: Kendall tau = {tau:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(args: argparse.Namespace, trained: dict[str, Any]) -> None:
    from scipy.stats import kendalltau, spearmanr

    from edgenas.runtime._io import atomic_write_json

    alone = {r["arch_id"]: r for r in json.loads((args.out / "standalone.json").read_text())}
    rows = [r | {"standalone_top1": alone[r["arch_id"]]["standalone_top1"]} for r in inherited(args)]
    x, y = [r["standalone_top1"] for r in rows], [r["inherited_top1"] for r in rows]
    tau, spearman = float(kendalltau(x, y).statistic), float(spearmanr(x, y).statistic)
    times = trained["epoch_times_s"]
    result = {"supernet_epoch_time_s_mean": float(np.mean(times)), "supernet_epoch_times_s": times,
              "train_images": trained["last"].get("images_per_s"), "val_top1_max": trained["last"].get("val_top1_max"),
              "val_top1_min": trained["last"].get("val_top1_min"), "kendall_tau": tau, "spearman": spearman,
              "subnets": rows, "args": {k: str(v) for k, v in vars(args).items()}, "train_config": trained["config"],
              "torch_threads": args.threads, "wall_s_train": trained["wall_s"]}
    atomic_write_json(args.out / "results.json", result)
    plot(rows, tau if math.isfinite(tau) else float("nan"), args.out / "kendall.png")
    print(f"{'supernet epoch time (s)':<34}{np.mean(times):>10.1f}   ({args.epochs} epochs, {args.threads} thread)")
    print(f"{'top-1 max subnet (%)':<34}{result['val_top1_max']:>10.2f}")
    print(f"{'top-1 min subnet (%)':<34}{result['val_top1_min']:>10.2f}")
    print(f"{'Kendall tau (goal >= 0.7)':<34}{tau:>10.3f}   Spearman {spearman:.3f}, {len(rows)} subnets")
    print(f"\n{'arch_id':<14}{'MFLOPs':>8}{'inherited %':>13}{'stand-alone %':>15}")
    for r in sorted(rows, key=lambda r: r["mflops"]):
        print(f"{r['arch_id']:<14}{r['mflops']:>8.2f}{r['inherited_top1']:>13.2f}{r['standalone_top1']:>15.2f}")


def wait_for_standalone(path: Path, n: int, limit_s: float = 3600.0) -> None:
    start = time.perf_counter()
    while not (path.is_file() and len(json.loads(path.read_text())) >= n):
        if time.perf_counter() - start > limit_s:
            raise SystemExit(f"{path} did not reach {n} subnets within {limit_s:.0f} s")
        time.sleep(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench-supernet"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--subnets", type=int, default=10)
    ap.add_argument("--standalone-epochs", type=int, default=3)
    ap.add_argument("--standalone-lr", type=float, default=0.1)
    ap.add_argument("--calib-batches", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None, help="supernet peak LR (default: digits-cpu.yaml)")
    ap.add_argument("--reuse-standalone", action="store_true",
                    help="reuse OUT/standalone.json from an earlier run with the same --subnets/--seed")
    ap.add_argument("--phase", choices=["all", "standalone"], default="all")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.phase == "standalone":
        standalone_phase(args)
        return
    if args.reuse_standalone:  # another process (an earlier run) writes OUT/standalone.json
        trained = train_phase(args)
        wait_for_standalone(args.out / "standalone.json", args.subnets)
    else:
        helper = subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--phase", "standalone"])
        try:
            trained = train_phase(args)
            if helper.wait() != 0:
                raise SystemExit("the stand-alone training process failed")
        finally:
            if helper.poll() is None:
                helper.terminate()
    report(args, trained)


if __name__ == "__main__":
    main()
