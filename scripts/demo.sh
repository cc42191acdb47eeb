#!/usr/bin/env bash
# The whole chain on the embedded default: handwritten digits (scikit-learn), the compact `cifar`
# space, the onnxruntime-cpu target, and a generated video as the camera. No network, no GPU.
# Called by `make demo`; every step is an `edgenas` command a user can run alone.
# Sizes are set for a 2-core CPU (about 10-15 minutes); override them through the environment.
set -euo pipefail

BIN=${BIN:-.venv/bin}
RUNS=${RUNS:-runs}
OUT=${DEMO_OUT:-$RUNS/demo}
EPOCHS=${DEMO_EPOCHS:-4}
N_LATENCY=${DEMO_N_LATENCY:-80}
SEED=${DEMO_SEED:-0}
edgenas="$BIN/edgenas"
py="$BIN/python"

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
mkdir -p "$OUT"

step "1/7 camera: a generated video of handwritten digits"
[ -f "$OUT/camera.avi" ] || "$py" scripts/make_demo_video.py --out "$OUT/camera.avi" --seconds 20

step "2/7 supernet: sandwich-rule training with alpha-divergence distillation on digits ($EPOCHS epochs)"
train_args=(--config configs/experiments/digits-cpu.yaml --out "$OUT/supernet" --epochs "$EPOCHS" --seed "$SEED")
[ -f "$OUT/supernet/last.pt" ] && train_args+=(--resume)
[ -f "$OUT/supernet/supernet.pt" ] || "$edgenas" search train "${train_args[@]}"

step "3/7 latency data: $N_LATENCY architectures sampled over the space, measured on onnxruntime-cpu"
[ -f "$OUT/latency/archs.jsonl" ] || "$edgenas" search latency sample --space cifar --n "$N_LATENCY" --seed "$SEED" --out "$OUT/latency"
"$edgenas" search latency measure --archs "$OUT/latency/archs.jsonl" --space cifar --target onnxruntime-cpu \
    --out "$OUT/latency" --runs 30 --warmup 5

step "4/7 latency predictor: MLP ensemble on the architecture encoding, with its quality report"
[ -d "$OUT/predictor" ] || "$edgenas" search predictor train --data "$OUT/latency/latency.csv" --space cifar \
    --target onnxruntime-cpu --out "$OUT/predictor" --holdout 0.25 --seed "$SEED"
"$edgenas" search predictor report --predictor "$OUT/predictor" --data "$OUT/predictor/heldout.csv" \
    --out "$OUT/predictor/report"

step "5/7 export: the smallest and the largest subnet, with trained weights, as bundles"
for which in min max; do
    "$py" - "$which" "$OUT/arch-$which.json" <<'EOF'
import json, sys
from edgenas.search.spaces import load_space
space = load_space("cifar")
arch = space.min_arch() if sys.argv[1] == "min" else space.max_arch()
json.dump(arch.to_dict(), open(sys.argv[2], "w"))
EOF
    "$edgenas" search export --space cifar --arch "$OUT/arch-$which.json" --weights "$OUT/supernet/supernet.pt" \
        --dataset digits --out "$OUT/bundle-$which" --force
    "$edgenas" search predictor predict --predictor "$OUT/predictor" --archs "$OUT/arch-$which.json" \
        > "$OUT/bundle-$which.predicted.jsonl" 2>/dev/null || true
done

step "6/7 bench: batch-1 latency of each bundle on this CPU"
for which in min max; do
    "$edgenas" bench --bundle "$OUT/bundle-$which" --runs 200 --warmup 20 --threads 1 --json > "$OUT/bench-$which.json"
done

step "7/7 runtime: the max subnet on the generated camera video"
"$edgenas" run --bundle "$OUT/bundle-max" --source "$OUT/camera.avi" --threads 1 --report "$OUT/run-report.json"

step "summary"
"$py" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = []
for which in ("min", "max"):
    man = json.loads((out / f"bundle-{which}" / "manifest.json").read_text())
    bench = json.loads((out / f"bench-{which}.json").read_text())
    pred = (out / f"bundle-{which}.predicted.jsonl").read_text().strip().splitlines()
    pred_ms = json.loads(pred[0])["predicted_ms"] if pred else float("nan")
    rows.append((which, man["architecture"]["macs"] / 1e6, pred_ms, bench["p50_ms"]))
print(f"{'subnet':8} {'MMACs':>8} {'predicted ms':>13} {'measured p50 ms':>16}")
for r in rows:
    print(f"{r[0]:8} {r[1]:8.2f} {r[2]:13.3f} {r[3]:16.3f}")
run = json.loads((out / "run-report.json").read_text())
print(f"\nlive run on {out / 'camera.avi'}: {run['frames']} frames, {run['fps']:.1f} FPS, "
      f"p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, dropped {run['dropped']}")
print(f"predictor report: {out / 'predictor' / 'report'}")
EOF
