"""Write the demo's "camera": a video of real handwritten digits (scikit-learn's set) drifting on screen.

Each scene shows one digit from the held-out part of the set, upscaled, moving slowly with a little
noise, so the classifier sees a plausible camera feed. Usage:

    python scripts/make_demo_video.py --out runs/demo/camera.avi [--seconds 20 --fps 15 --size 160]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from sklearn.datasets import load_digits


def render_frames(seconds: float, fps: int, size: int, seed: int) -> list[np.ndarray]:
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.images))
    frames: list[np.ndarray] = []
    per_scene = max(1, int(fps * 1.5))
    total = int(seconds * fps)
    for i in range(total):
        img = digits.images[order[i // per_scene]]  # 8x8, values 0..16
        digit = cv2.resize((img * 255 / 16).astype(np.uint8), (size // 2, size // 2), interpolation=cv2.INTER_LINEAR)
        canvas = np.zeros((size, size), np.uint8)
        t = (i % per_scene) / per_scene
        x = int(size / 4 + np.sin(2 * np.pi * t) * size / 10)
        y = int(size / 4 + np.cos(2 * np.pi * t) * size / 10)
        canvas[y : y + size // 2, x : x + size // 2] = digit
        noise = rng.normal(0, 6, canvas.shape)
        canvas = np.clip(canvas.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        frames.append(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.stem}.partial{args.out.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), args.fps, (args.size, args.size))
    if not writer.isOpened():
        raise SystemExit(f"error: OpenCV cannot write {tmp} (MJPG/AVI); check the path and disk space")
    frames = render_frames(args.seconds, args.fps, args.size, args.seed)
    for frame in frames:
        writer.write(frame)
    writer.release()
    tmp.replace(args.out)
    print(f"wrote {args.out}: {len(frames)} frames, {args.size}x{args.size} @ {args.fps} fps")


if __name__ == "__main__":
    main()
