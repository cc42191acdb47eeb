"""Latency predictor benchmark (issue 4 "done when"): measured data, predictor vs baselines, noise, throughput.

Runs the user-facing commands (``edgenas search latency ...``, ``edgenas search predictor ...``) in order;
every stage resumes, so the script can be re-run after an interruption or with ``--stage`` to stop early:

  1. sample   N_train training and N_heldout held-out architectures (stratified, disjoint, seeded)
  2. measure  both sets on onnxruntime-cpu (1 intra-op thread, round-robin groups with the reference
              network: latency_ratio), resumable
  3. remeasure the first N_remeasure held-out architectures again, in reverse order (other groups,
              another process: the measurement's own noise)
  4. lut      per-block lookup table for every block of both sets
  5. train    the predictor on the training set only, one per column (ratio, min, p50), and on the
              ratio once more with --no-residual ("ratio-plain")
  6. report   predictor, FLOPs-linear and LUT on the held-out set, side by side
  7. noise + throughput: re-measurement vs first measurement; batched predictions/s vs measurements/s

  python benchmarks/latency_predictor.py --space cifar --out runs/latency-cifar
  python benchmarks/latency_predictor.py --space alphanet --resolution 192 --n-train 150 --n-heldout 100 \
      --runs 30 --warmup 5 --out runs/latency-alphanet192
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STAGES = ("sample", "measure", "remeasure", "lut", "train", "report", "summary")
EDGENAS = [str(Path(sys.executable).with_name("edgenas"))]


def run(*args: str) -> str:
    print("+ edgenas", " ".join(args), file=sys.stderr, flush=True)
    return subprocess.run([*EDGENAS, *args], check=True, stdout=subprocess.PIPE, text=True).stdout


def first_lines_reversed(src: Path, dst: Path, n: int) -> None:
    if not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text("".join(src.read_text().splitlines(keepends=True)[:n][::-1]))


def noise(first_csv: Path, second_csv: Path, column: str) -> dict[str, float]:
    from edgenas.search.latency.dataset import read_latency_csv
    from edgenas.search.latency.report import metrics

    a, b = read_latency_csv(first_csv).with_target(column), read_latency_csv(second_csv).with_target(column)
    ia = {k: i for i, k in enumerate(a.arch_ids)}
    common = [k for k in b.arch_ids if k in ia]
    y1 = np.array([a.latency_ms[ia[k]] for k in common])
    y2 = np.array([b.latency_ms[b.arch_ids.index(k)] for k in common])
    return metrics(y1, y2)  # the second measurement "predicting" the first


def throughput(pred_dir: Path, space_name: str, meta_csvs: list[Path]) -> dict[str, float]:
    import torch

    from edgenas.search.latency.dataset import read_metadata
    from edgenas.search.latency.predictor import Predictor
    from edgenas.search.spaces import load_space

    torch.set_num_threads(1)
    pred = Predictor.load(pred_dir)
    space = load_space(space_name)
    rng = np.random.default_rng(0)
    genes = np.stack([space.encode(space.sample(rng)) for _ in range(10000)])
    t = time.perf_counter()
    pred.predict_genes(genes)  # MACs computed through the space (cold cache), then the ensemble
    cold = len(genes) / (time.perf_counter() - t)
    t = time.perf_counter()
    pred.predict_genes(genes)  # MACs cached: the NSGA-II re-query case
    warm = len(genes) / (time.perf_counter() - t)
    finished = [r for p in meta_csvs for r in (read_metadata(p) or {}).get("runs", []) if "seconds" in r]
    done = sum(r["done"] for r in finished)  # runs that were stopped early recorded no duration
    secs = sum(r["seconds"] for r in finished)
    return {"predict_archs_per_s_cold": cold, "predict_archs_per_s_cached": warm,
            "measure_archs_per_s": done / secs if secs else float("nan"), "measured_in_runs": done,
            "measure_seconds": secs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", default="cifar")
    ap.add_argument("--resolution", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/latency-cifar"))
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--extra-train", type=Path, action="append", default=[],
                    help="More measured training rows (a latency.csv of the same space and settings); repeatable.")
    ap.add_argument("--n-heldout", type=int, default=250)
    ap.add_argument("--n-remeasure", type=int, default=50)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference", choices=["mid", "none"], default="mid",
                    help="Paired measurement against the space's reference network (latency_ratio); none: p50 only.")
    ap.add_argument("--group", type=int, default=16, help="Architectures measured together, round-robin.")
    ap.add_argument("--block", type=int, default=10, help="Timed runs per visit of the rotation.")
    ap.add_argument("--stage", choices=STAGES, default="summary", help="Stop after this stage.")
    ap.add_argument("--skip", action="append", choices=STAGES, default=[],
                    help="Skip a stage (e.g. --skip measure: use the rows measured so far). Repeatable.")
    a = ap.parse_args()
    o, sp = a.out, a.space
    res = ["--resolution", str(a.resolution)] if a.resolution else []
    meas = ["--space", sp, "--target", "onnxruntime-cpu", "--runs", str(a.runs), "--warmup", str(a.warmup),
            "--threads", "1", "--reference", a.reference, "--group", str(a.group), "--block", str(a.block)]
    todo = [s for s in STAGES[:STAGES.index(a.stage) + 1] if s not in a.skip]
    if not (o / "train/archs.jsonl").exists():
        run("search", "latency", "sample", "--space", sp, "--n", str(a.n_train), "--seed", str(a.seed + 1),
            "--out", str(o / "train"), *res)
    if not (o / "heldout/archs.jsonl").exists():
        run("search", "latency", "sample", "--space", sp, "--n", str(a.n_heldout), "--seed", str(a.seed + 2),
            "--exclude", str(o / "train/archs.jsonl"), "--out", str(o / "heldout"), *res)
    if "measure" in todo:
        for part in ("train", "heldout"):
            run("search", "latency", "measure", "--archs", str(o / part / "archs.jsonl"), *meas,
                "--out", str(o / part / "measured"))
    if "remeasure" in todo:
        first_lines_reversed(o / "heldout/archs.jsonl", o / "remeasure/archs.jsonl", a.n_remeasure)
        run("search", "latency", "measure", "--archs", str(o / "remeasure/archs.jsonl"), *meas,
            "--out", str(o / "remeasure/measured"))
    if "lut" in todo:
        print(run("search", "latency", "lut", "--archs", str(o / "train/archs.jsonl"), "--archs",
                  str(o / "heldout/archs.jsonl"), "--space", sp, "--runs", str(a.runs), "--warmup", str(a.warmup),
                  "--out", str(o / "lut.json")), end="")
    cols = {"p50": "latency_p50_ms", "min": "latency_min_ms"}
    if a.reference != "none":
        cols.update(ratio="latency_ratio", **{"ratio-plain": "latency_ratio"})  # plain: --no-residual
    for tag, col in cols.items():
        if "train" in todo:
            extra = [x for p in a.extra_train for x in ("--data", str(p))]
            print(run("search", "predictor", "train", "--data", str(o / "train/measured/latency.csv"), *extra, "--space", sp,
                      "--target", "onnxruntime-cpu", "--seed", str(a.seed), "--latency-column", col,
                      *(["--no-residual"] if tag.endswith("-plain") else []),
                      "--out", str(o / f"predictor-{tag}"), "--overwrite"), end="")
        if "report" in todo:
            print(run("search", "predictor", "report", "--predictor", str(o / f"predictor-{tag}"), "--data",
                      str(o / "heldout/measured/latency.csv"), "--lut", str(o / "lut.json"),
                      "--out", str(o / f"report-{tag}")))
    if "summary" in todo:
        heldout, again = o / "heldout/measured/latency.csv", o / "remeasure/measured/latency.csv"
        from edgenas.search.latency.dataset import read_latency_csv

        summary = {"space": sp, "resolution": a.resolution, "runs": a.runs, "warmup": a.warmup,
                   "n_train_measured": sum(len(read_latency_csv(p)) for p in
                                           [o / "train/measured/latency.csv", *a.extra_train]),
                   "n_heldout_measured": len(read_latency_csv(heldout)),
                   "report": {tag: json.loads((o / f"report-{tag}/report.json").read_text())["metrics"]
                              for tag in cols},
                   "measurement_noise": {tag: noise(heldout, again, col) for tag, col in cols.items()},
                   "throughput": throughput(o / "predictor-p50", sp, [o / "train/measured/latency.csv", heldout]),
                   "lut": {k: v for k, v in json.loads((o / "lut.json").read_text()).items() if k != "entries"}}
        (o / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
