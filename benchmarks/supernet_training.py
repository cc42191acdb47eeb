"""Supernet training benchmark on the embedded digits data set with the compact `cifar` space (CPU).

Reports, side by side: supernet training time per epoch; top-1 of the min and max subnets; and,
over N subnets spread over the space's FLOPs range, the Kendall tau between inherited-weight
scores and stand-alone scores (each subnet trained from scratch on the same data, mean over
--standalone-seeds seeds). Every net, inherited or stand-alone, gets the same deterministic BN
recalibration (by default the whole training split, fixed order, no augmentation) and is scored on
two sets: `clean` (the 360 held-out digits) and `distorted` (--distorted-copies fixed, seeded
affine + noise copies of them, edgenas.search.distort), each as top-1 and cross-entropy. The
headline is tau on distorted top-1; the others are printed beside it, with the seed-to-seed tau of
the stand-alone runs (how well the ground truth agrees with itself). The stand-alone runs go in a
second process alongside the supernet training (each process uses --threads torch threads).

    .venv/bin/python benchmarks/supernet_training.py --out runs/bench-supernet

Writes OUT/results.json, OUT/standalone.json, OUT/kendall.png and OUT/train/ (the training run).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "experiments" / "digits-cpu.yaml"
METRICS = ("distorted_top1", "clean_top1", "distorted_ce", "clean_ce")  # the first is the headline
RECIPE = ("standalone_epochs", "standalone_lr", "calib_batches", "distorted_copies", "batch_size")


def pick_subnets(space: Any, n: int, seed: int) -> list[Any]:
    """min, max and n-2 random subnets at evenly spaced FLOPs quantiles of 400 samples."""
    from edgenas.search.flops import count_flops_params

    rng = np.random.default_rng(seed)
    pool = {a.arch_id: a for a in (space.sample(rng) for _ in range(400))}
    archs = sorted(pool.values(), key=lambda a: count_flops_params(space, a, 10)[0])
    picks = [archs[int(round(q * (len(archs) - 1)))] for q in np.linspace(0.05, 0.95, n - 2)]
    return [space.min_arch(), *picks, space.max_arch()]


class Scorer:
    """The same BN recalibration and evaluation sets for every net (inherited or stand-alone)."""

    def __init__(self, resolution: int, args: argparse.Namespace) -> None:
        from edgenas.search.data import load_dataset, make_loader
        from edgenas.search.distort import distorted_copies

        self.calib = make_loader(load_dataset("digits", "train", resolution).dataset, args.batch_size, False, 0)
        self.calib_batches = args.calib_batches or len(self.calib)
        val = load_dataset("digits", "val", resolution)
        self.sets = {"clean": make_loader(val.dataset, 256, False, 0),
                     "distorted": make_loader(distorted_copies(val, args.distorted_copies, args.seed).dataset,
                                              256, False, 0)}

    def __call__(self, net: torch.nn.Module, resolution: int) -> dict[str, float]:
        from edgenas.search.calibrate import recalibrate_bn
        from edgenas.search.train import evaluate, input_batches

        cpu = torch.device("cpu")
        recalibrate_bn(net, input_batches(self.calib, resolution, cpu), self.calib_batches)
        scores = {name: evaluate(net, loader, resolution, cpu) for name, loader in self.sets.items()}
        return {f"{name}_{k}": v for name, s in scores.items() for k, v in s.items()}


def train_standalone(space: Any, arch: Any, args: argparse.Namespace, seed: int, scorer: Scorer) -> dict[str, float]:
    """Train ``arch`` from scratch (same data, augmentation, SGD + cosine, smoothed CE), then score it."""
    from edgenas.search.data import load_dataset, make_loader
    from edgenas.search.losses import smoothed_cross_entropy
    from edgenas.search.static import build_static
    from edgenas.search.train import param_groups, resize, warmup_cosine

    train = load_dataset("digits", "train", max(space.resolutions), augment=True)
    torch.manual_seed(seed)
    net = build_static(space, arch, 10)
    loader = make_loader(train.dataset, args.batch_size, True, seed, drop_last=True)
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
    return scorer(net, arch.resolution)


def standalone_phase(args: argparse.Namespace) -> None:
    """Seed-major, so a cut-short run still has whole seeds; one row per (subnet, seed)."""
    from edgenas.runtime._io import atomic_write_json
    from edgenas.search.spaces import load_space

    space = load_space("cifar")
    scorer = Scorer(max(space.resolutions), args)
    recipe = {k: getattr(args, k) for k in RECIPE}
    archs, rows = pick_subnets(space, args.subnets, args.seed), []
    for seed in range(args.seed, args.seed + args.standalone_seeds):
        for i, arch in enumerate(archs):
            start = time.perf_counter()
            scores = train_standalone(space, arch, args, seed, scorer)
            rows.append({"arch_id": arch.arch_id, "arch": arch.to_dict(), "seed": seed, **scores,
                         "train_s": time.perf_counter() - start, "recipe": recipe})
            print(f"[standalone seed {seed} {i + 1}/{args.subnets}] {arch.arch_id} top-1 clean "
                  f"{scores['clean_top1']:.2f}% distorted {scores['distorted_top1']:.2f}% "
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
    from edgenas.search.flops import count_flops_params

    net, _ = load_supernet_weights(args.out / "train" / "supernet.pt", "cifar")
    scorer = Scorer(max(net.space.resolutions), args)
    rows = []
    for arch in pick_subnets(net.space, args.subnets, args.seed):
        net.activate(arch)
        scores = scorer(net.extract(), arch.resolution)
        rows.append({"arch_id": arch.arch_id, "mflops": count_flops_params(net.space, arch, 10)[0] / 1e6,
                     "inherited": scores})
    return rows


def standalone_means(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Per subnet: the mean over seeds of each metric, and the per-seed values."""
    recipe = {k: getattr(args, k) for k in RECIPE}
    out: dict[str, dict[str, Any]] = {}
    for row in json.loads((args.out / "standalone.json").read_text()):
        if row.get("recipe") != recipe:
            raise SystemExit(f"{args.out}/standalone.json was made with {row.get('recipe')}, not {recipe}; "
                             "rerun without --reuse-standalone or use the same options")
        out.setdefault(row["arch_id"], {"seeds": {}})["seeds"][row["seed"]] = {m: row[m] for m in METRICS}
    for entry in out.values():
        entry["mean"] = {m: float(np.mean([s[m] for s in entry["seeds"].values()])) for m in METRICS}
    return out


def rank_agreement(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Kendall tau and Spearman, inherited vs stand-alone mean, and mean pairwise tau between seeds."""
    from scipy.stats import kendalltau, spearmanr

    out = {}
    for m in METRICS:
        x, y = [r["standalone"]["mean"][m] for r in rows], [r["inherited"][m] for r in rows]
        seeds = sorted(rows[0]["standalone"]["seeds"])
        pairs = [kendalltau([r["standalone"]["seeds"][a][m] for r in rows],
                            [r["standalone"]["seeds"][b][m] for r in rows]).statistic
                 for a, b in itertools.combinations(seeds, 2)]
        out[m] = {"kendall_tau": float(kendalltau(x, y).statistic), "spearman": float(spearmanr(x, y).statistic),
                  "seed_to_seed_tau": float(np.mean(pairs)) if pairs else float("nan")}
    return out


def plot(rows: list[dict[str, Any]], taus: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, m in zip(axes, ("distorted_top1", "clean_top1"), strict=True):
        sc = ax.scatter([r["standalone"]["mean"][m] for r in rows], [r["inherited"][m] for r in rows],
                        c=[r["mflops"] for r in rows], cmap="viridis")
        ax.set_xlabel(f"stand-alone {m} (%), mean of seeds")
        ax.set_ylabel(f"inherited {m} (%)")
        ax.set_title(f"{m}: Kendall tau = {taus[m]['kendall_tau']:.3f}")
    fig.colorbar(sc, ax=axes, label="MFLOPs (MACs)")
    fig.savefig(path, dpi=120)


def report(args: argparse.Namespace, trained: dict[str, Any]) -> None:
    from edgenas.runtime._io import atomic_write_json

    alone = standalone_means(args)
    rows = [r | {"standalone": alone[r["arch_id"]]} for r in inherited(args)]
    taus = rank_agreement(rows)
    times = trained["epoch_times_s"]
    lo, hi = rows[0]["inherited"], rows[-1]["inherited"]  # pick_subnets puts min first, max last
    result = {"supernet_epoch_time_s_mean": float(np.mean(times)), "supernet_epoch_times_s": times,
              "train_images": trained["last"].get("images_per_s"), "top1_max": hi["clean_top1"],
              "top1_min": lo["clean_top1"], "distorted_top1_max": hi["distorted_top1"],
              "distorted_top1_min": lo["distorted_top1"], "kendall_tau": taus[METRICS[0]]["kendall_tau"],
              "spearman": taus[METRICS[0]]["spearman"], "metrics": taus, "subnets": rows,
              "args": {k: str(v) for k, v in vars(args).items()}, "train_config": trained["config"],
              "torch_threads": args.threads, "wall_s_train": trained["wall_s"]}
    atomic_write_json(args.out / "results.json", result)
    plot(rows, taus, args.out / "kendall.png")
    print(f"{'supernet epoch time (s)':<34}{np.mean(times):>10.1f}   ({args.epochs} epochs, {args.threads} thread)")
    print(f"{'top-1 max subnet (%)':<34}{hi['clean_top1']:>10.2f}   distorted {hi['distorted_top1']:.2f}")
    print(f"{'top-1 min subnet (%)':<34}{lo['clean_top1']:>10.2f}   distorted {lo['distorted_top1']:.2f}")
    print(f"\n{len(rows)} subnets, stand-alone = mean of {args.standalone_seeds} seeds; goal: tau >= 0.7 "
          f"on {METRICS[0]}")
    print(f"{'metric':<18}{'Kendall tau':>12}{'Spearman':>10}{'seed-to-seed tau':>18}")
    for m, t in taus.items():
        print(f"{m:<18}{t['kendall_tau']:>12.3f}{t['spearman']:>10.3f}{t['seed_to_seed_tau']:>18.3f}")
    print(f"\n{'arch_id':<14}{'MFLOPs':>8}  inherited: {'clean %':>8}{'dist. %':>9}{'dist. CE':>9}"
          f"   stand-alone: {'clean %':>8}{'dist. %':>9}{'dist. CE':>9}")
    for r in sorted(rows, key=lambda r: r["mflops"]):
        a, b = r["inherited"], r["standalone"]["mean"]
        print(f"{r['arch_id']:<14}{r['mflops']:>8.2f}  {'':>11}{a['clean_top1']:>8.2f}{a['distorted_top1']:>9.2f}"
              f"{a['distorted_ce']:>9.3f}   {'':>13}{b['clean_top1']:>8.2f}{b['distorted_top1']:>9.2f}"
              f"{b['distorted_ce']:>9.3f}")


def wait_for_standalone(path: Path, n: int, limit_s: float) -> None:
    start = time.perf_counter()
    while not (path.is_file() and len(json.loads(path.read_text())) >= n):
        if time.perf_counter() - start > limit_s:
            raise SystemExit(f"{path} did not reach {n} rows within {limit_s:.0f} s")
        time.sleep(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench-supernet"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--subnets", type=int, default=10)
    ap.add_argument("--standalone-epochs", type=int, default=12)
    ap.add_argument("--standalone-lr", type=float, default=0.1)
    ap.add_argument("--standalone-seeds", type=int, default=3, help="stand-alone runs per subnet (seed, seed+1, ...)")
    ap.add_argument("--calib-batches", type=int, default=0,
                    help="BN recalibration batches, first of the training split in a fixed order (0: all of it)")
    ap.add_argument("--distorted-copies", type=int, default=10, help="distorted copies of the validation set")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None, help="supernet peak LR (default: digits-cpu.yaml)")
    ap.add_argument("--reuse-standalone", action="store_true",
                    help="reuse OUT/standalone.json from an earlier run with the same subnets, seeds and recipe")
    ap.add_argument("--phase", choices=["all", "standalone"], default="all")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.phase == "standalone":
        standalone_phase(args)
        return
    if args.reuse_standalone:  # another process (an earlier run) writes OUT/standalone.json
        trained = train_phase(args)
        wait_for_standalone(args.out / "standalone.json", args.subnets * args.standalone_seeds, 3 * 3600.0)
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
