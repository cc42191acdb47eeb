"""ONNX Runtime static INT8 (``edgenas compile quantize``) against float, side by side.

A generated convnet (3x3 convs 3->32->64->128, stride 2, GAP, FC 10; fixed seed, random weights)
at 32x32 on real images (scikit-learn's handwritten digits, upscaled, grey -> RGB): model size,
top-1 agreement of int8 with float on held-out images, and ONNX Runtime CPU latency (p50, one
intra-op thread, 20 warm-up + 200 runs) of both bundles.

    python benchmarks/compile_quantize.py --out runs/bench-quantize [--calib 256]
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np

from edgenas.compile.calibration import normalize
from edgenas.compile.quantize_ort import QuantizeConfig, quantize_bundle
from edgenas.runtime.backends.onnxruntime import OrtBackend
from edgenas.runtime.bench import measure_latency
from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle


def digits_rgb(size: int) -> np.ndarray:
    import cv2
    from sklearn.datasets import load_digits

    imgs = (load_digits().images / 16.0 * 255).astype(np.uint8)
    up = np.stack([cv2.resize(i, (size, size), interpolation=cv2.INTER_LINEAR) for i in imgs])
    return np.repeat(up[..., None], 3, axis=3)


def convnet(size: int, seed: int = 0) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    chans, nodes, inits, prev = [3, 32, 64, 128], [], [], "input"
    for i in range(3):
        w = rng.normal(0, np.sqrt(2 / (9 * chans[i])), (chans[i + 1], chans[i], 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(chans[i + 1], np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1] * 4, strides=[2, 2]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev = f"r{i}"
    inits += [numpy_helper.from_array(rng.normal(0, 0.1, (10, 128)).astype(np.float32), "fw"),
              numpy_helper.from_array(np.zeros(10, np.float32), "fb")]
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], transB=1)]
    g = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--calib", type=int, default=256)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    imgs = digits_rgb(args.size)
    calib, held_out = imgs[: args.calib], imgs[args.calib :]
    buf = io.BytesIO()
    np.save(buf, calib, allow_pickle=False)
    pre = Preprocessing(size_hw=(args.size, args.size), mean_pixel=(127.5,) * 3, std_pixel=(127.5,) * 3)  # type: ignore[arg-type]
    fp = write_bundle(args.out / "float", name="bench", model_file="model.onnx", model_format="onnx",
                      files={"model.onnx": ("model", convnet(args.size)), "calibration.npy": ("calibration", buf.getvalue())},
                      inputs=[TensorSpec("input", (1, 3, args.size, args.size))], outputs=[TensorSpec("logits", (1, 10))],
                      preprocessing=pre, overwrite=True)
    q = quantize_bundle(fp, args.out / "int8", QuantizeConfig())
    x = normalize(held_out.astype(np.float32), pre)
    rows = {}
    for name, b in (("float", fp), ("int8", q)):
        with OrtBackend(b, threads=1) as be:
            top1 = np.array([int(np.argmax(be.infer(x[i : i + 1])[0])) for i in range(len(x))])
            lat = measure_latency(be, runs=200, warmup=20, x=x[:1])
        rows[name] = {"size_bytes": b.model_path.stat().st_size, "p50_ms": lat["p50_ms"], "top1": top1}
    agree = float(np.mean(rows["float"]["top1"] == rows["int8"]["top1"]))
    print(f"{'':6s} {'size_bytes':>10s} {'p50_ms':>8s}")
    for name, r in rows.items():
        print(f"{name:6s} {r['size_bytes']:10d} {r['p50_ms']:8.3f}")
    print(f"top-1 agreement int8 vs float on {len(x)} held-out digits: {agree:.3f}")
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "top1"} for k, v in rows.items()}
    (args.out / "compile_quantize.json").write_text(json.dumps({**summary, "top1_agreement": agree}, indent=2))


if __name__ == "__main__":
    main()
