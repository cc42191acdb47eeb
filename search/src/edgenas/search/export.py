"""Export one architecture as a bundle: ONNX of the network alone + manifest (+ a calibration sample).

Normalization lives in the manifest (``preprocessing``), not in the graph. The ONNX has one float32
input ``input`` of static shape (1, 3, R, R) and one output ``logits``; opset 11 (what the Hailo DFC
accepts), written by the TorchScript exporter; swish is Mul(x, Sigmoid(x)), hard-sigmoid is HardSigmoid.
Every export is checked against PyTorch with ONNX Runtime.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgenas.runtime._io import sha256_file
from edgenas.runtime.bundle import Bundle, Preprocessing, TensorSpec, write_bundle
from edgenas.runtime.errors import EdgeNasError
from edgenas.runtime.provenance import provenance
from edgenas.search.arch import ArchConfig
from edgenas.search.calibrate import recalibrate_bn
from edgenas.search.flops import count_flops_params
from edgenas.search.spaces import SearchSpace
from edgenas.search.static import StaticNet
from edgenas.search.supernet import Supernet

log = logging.getLogger(__name__)
INPUT_NAME, OUTPUT_NAME = "input", "logits"
ONNX_TOLERANCE = 1e-4


class ExportError(EdgeNasError):
    """Export failed: the ONNX does not match PyTorch, or the inputs to export do not fit together."""


def export_onnx(model: nn.Module, resolution: int, path: str | os.PathLike[str], opset: int = 11,
                verify: bool = True, seed: int = 0) -> float:
    """Write ``model`` (eval mode) as ONNX; returns max |ORT - PyTorch| on random inputs (raises above 1e-4)."""
    model = model.eval()
    dummy = torch.zeros(1, 3, resolution, resolution)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(model, (dummy,), buf, dynamo=False, opset_version=opset,  # type: ignore[arg-type]
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True)
    Path(path).write_bytes(_without_constant_identities(buf.getvalue()))
    return verify_onnx(model, path, resolution, seed=seed) if verify else 0.0


def _without_constant_identities(data: bytes) -> bytes:
    """The TorchScript exporter de-duplicates equal folded constants through Identity nodes (common with
    default BN init); give each its own initializer so the graph has only compute ops."""
    import onnx

    model = onnx.load_from_string(data)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    keep = []
    for node in g.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            t = onnx.TensorProto()
            t.CopyFrom(inits[node.input[0]])
            t.name = node.output[0]
            g.initializer.append(t)
        else:
            keep.append(node)
    if len(keep) == len(g.node):
        return data
    del g.node[:]
    g.node.extend(keep)
    return model.SerializeToString()


def verify_onnx(model: nn.Module, path: str | os.PathLike[str], resolution: int, seed: int = 0,
                n: int = 2) -> float:
    """Max abs difference between ONNX Runtime and PyTorch; raises ExportError above 1e-4 x max(1, |logits|)."""
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for _ in range(n):
        x = torch.randn(1, 3, resolution, resolution, generator=g)
        with torch.no_grad():
            ref = model.eval()(x).numpy()
        got = sess.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        if got.shape != ref.shape:
            raise ExportError(f"ONNX output shape {got.shape} differs from PyTorch {ref.shape}")
        diff = float(np.abs(got - ref).max())
        worst = max(worst, diff)
        if not diff <= ONNX_TOLERANCE * max(1.0, float(np.abs(ref).max())):
            raise ExportError(f"ONNX Runtime output differs from PyTorch by {diff:.3g} (> {ONNX_TOLERANCE}); "
                              "the exporter or an op is not faithful — report this with the architecture")
    log.info("ONNX Runtime matches PyTorch: max |diff| %.2e", worst)
    return worst


def _supernet_from_weights(space: SearchSpace, weights: Any, num_classes: int | None) -> tuple[Supernet, dict]:
    """A Supernet with the given weights: None (random init), a Supernet, or a file (ours or AlphaNet's)."""
    if weights is None:
        log.warning("no --weights: the network is randomly initialised (fine for latency, useless for accuracy)")
        return Supernet(space, num_classes, zero_init_residual=False), {"source": "random-init"}
    if isinstance(weights, Supernet):
        return weights, {"source": "in-memory"}
    from edgenas.search.alphanet_ckpt import is_alphanet_state_dict, load_alphanet_checkpoint, safe_load
    path = Path(weights)
    obj = safe_load(path)
    info = {"file": path.name, "sha256": sha256_file(path)}
    if isinstance(obj, dict) and obj.get("format") == "edgenas-supernet":
        from edgenas.search.checkpoint import load_supernet_weights
        net, meta = load_supernet_weights(path, space)
        return net, {"source": "edgenas", **info, "classes": list(meta.get("classes") or [])}
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if isinstance(sd, dict) and is_alphanet_state_dict(sd):
        net = Supernet(space, num_classes or space.num_classes)
        load_alphanet_checkpoint(path, net, loaded=obj)
        return net, {"source": "alphanet", **info, "license": "CC BY-NC 4.0 (derived from the official AlphaNet "
                     "weights): non-commercial use only, with attribution"}
    raise ExportError(f"{path} is neither an edgenas supernet.pt nor an AlphaNet checkpoint; pass the file "
                      "`edgenas search train` wrote or alphanet_pretrained.pth.tar")


def _calibration_batches(dataset: Any, batch_size: int, seed: int) -> Any:
    from edgenas.search.data import make_loader
    return make_loader(dataset.dataset, batch_size=batch_size, shuffle=True, seed=seed)


def build_subnet(space: SearchSpace, arch: ArchConfig, *, weights: Any = None, num_classes: int | None = None,
                 dataset: Any = None, recalibrate: bool = True, calib_batches: int = 32, calib_batch_size: int = 64,
                 seed: int = 0) -> tuple[StaticNet, dict[str, Any]]:
    """The static network for ``arch``, with weights and (optionally) recalibrated BN; plus a weights record."""
    space.validate(arch)
    torch.manual_seed(seed)
    supernet, record = _supernet_from_weights(space, weights, num_classes)
    if num_classes is not None and supernet.num_classes != num_classes:
        raise ExportError(f"the weights have {supernet.num_classes} output classes, not {num_classes}; drop "
                          "--num-classes or pass a data set / checkpoint with matching classes")
    supernet.activate(arch)
    model = supernet.extract().eval()
    if recalibrate and dataset is not None:
        if dataset.resolution != arch.resolution:
            raise ExportError(f"calibration data is at {dataset.resolution} px but the architecture takes "
                              f"{arch.resolution} px; load the data set at the architecture's resolution")
        recalibrate_bn(model, _calibration_batches(dataset, calib_batch_size, seed), calib_batches)
        record["bn"] = f"recalibrated on {calib_batches} x {calib_batch_size} images of {dataset.name}"
    elif recalibrate and record["source"] != "random-init":
        log.warning("BN statistics are not recalibrated (no data set given): the stored statistics are used")
        record["bn"] = "stored"
    else:
        record["bn"] = "stored" if record["source"] != "random-init" else "init"
    return model, record


def export_bundle(space: SearchSpace, arch: ArchConfig, out: str | os.PathLike[str], *, weights: Any = None,
                  num_classes: int | None = None, classes: tuple[str, ...] | list[str] = (), dataset: Any = None,
                  recalibrate: bool = True, calib_batches: int = 32, calib_batch_size: int = 64,
                  calibration_images: np.ndarray | None = None, preprocessing: Preprocessing | None = None,
                  opset: int = 11, seed: int = 0, overwrite: bool = False, name: str | None = None) -> Bundle:
    """Write a bundle for ``arch`` at ``out`` (atomically; nothing appears there on failure)."""
    model, record = build_subnet(space, arch, weights=weights, num_classes=num_classes, dataset=dataset,
                                 recalibrate=recalibrate, calib_batches=calib_batches,
                                 calib_batch_size=calib_batch_size, seed=seed)
    n_cls = model.plan.num_classes
    classes = tuple(classes) or tuple(getattr(dataset, "classes", ()) or ()) or tuple(record.pop("classes", ()))
    record.pop("classes", None)
    if classes and len(classes) != n_cls:
        raise ExportError(f"{len(classes)} class names for a network with {n_cls} outputs; pass matching "
                          "--num-classes / --dataset")
    r = arch.resolution
    pre = preprocessing or Preprocessing(size_hw=(r, r), mean_pixel=getattr(dataset, "mean_pixel", space.mean_pixel),
                                         std_pixel=getattr(dataset, "std_pixel", space.std_pixel))
    if tuple(pre.size_hw) != (r, r):
        raise ExportError(f"preprocessing size {pre.size_hw} does not match the architecture's {r} px")
    macs, params = count_flops_params(space, arch, n_cls)
    architecture = {"space": space.name, "arch_id": arch.arch_id, "config": arch.to_dict(),
                    "macs": macs, "params": params, "num_classes": n_cls, "weights": record}
    if space.name == "alphanet":
        architecture["alphanet_config"] = arch.to_alphanet_dict()
    with tempfile.TemporaryDirectory(prefix="edgenas-export-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        diff = export_onnx(model, r, onnx_path, opset=opset, seed=seed)
        architecture["onnx_max_abs_diff"] = diff
        files: dict[str, tuple[str, Any]] = {"model.onnx": ("model", onnx_path)}
        if calibration_images is not None:
            files["calibration.npy"] = ("calibration", _calibration_npy(calibration_images, r))
        return write_bundle(
            out, name=name or f"{space.name}-{arch.arch_id}", model_file="model.onnx", model_format="onnx",
            files=files, inputs=[TensorSpec(INPUT_NAME, (1, 3, r, r))], outputs=[TensorSpec(OUTPUT_NAME, (1, n_cls))],
            preprocessing=pre, classes=classes, architecture=architecture, overwrite=overwrite,
            provenance=provenance("search.export", seed=seed, config=architecture),
        )


def _calibration_npy(images: np.ndarray, resolution: int) -> bytes:
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1:] != (resolution, resolution, 3) or len(a) == 0:
        raise ExportError(f"calibration images must be uint8 NHWC RGB at {resolution} px, got {a.dtype} "
                          f"{a.shape}")
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()
