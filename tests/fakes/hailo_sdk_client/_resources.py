"""The fake's resource model. INVENTED for tests: these formulas and numbers are NOT Hailo's.

* weights are stored as int8: ``params_bytes`` = number of weight elements;
* ``contexts = ceil(params_bytes / (CONTEXT_WEIGHT_BUDGET_BYTES[hw_arch] * max_memory_utilization))``,
  where ``max_memory_utilization`` comes from ``resources_param(...)`` in the model script (default 1.0);
* compute time per frame = ``2 * MACs / (TOPS[hw_arch] * 1e12 * EFFICIENCY)``;
* a single-context network streams: ``bottleneck_fps = min(MAX_FPS, 1 / compute_time)``;
* a multi-context network reloads every context per frame at batch 1:
  ``bottleneck_fps = 1 / (compute_time + contexts * CONTEXT_SWITCH_S)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx

CONTEXT_WEIGHT_BUDGET_BYTES = {"hailo8": 32 << 20, "hailo8r": 32 << 20, "hailo8l": 12 << 20}
TOPS = {"hailo8": 26.0, "hailo8r": 26.0, "hailo8l": 13.0}
DEFAULT_BUDGET_BYTES, DEFAULT_TOPS = 16 << 20, 13.0
EFFICIENCY = 0.25
CONTEXT_SWITCH_S = 1.5e-3
MAX_FPS = 5000.0


def _shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    out = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        out[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    return out


def count(model: onnx.ModelProto) -> dict[str, int]:
    shapes = _shapes(model)
    inits = {i.name: i for i in model.graph.initializer}
    params = sum(int(np.prod(i.dims)) for i in inits.values())
    macs = 0
    for node in model.graph.node:
        out = shapes.get(node.output[0], [])
        if node.op_type in ("Conv", "ConvTranspose") and node.input[1] in inits and out:
            w = list(inits[node.input[1]].dims)
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul") and out:
            k = shapes.get(node.input[0], [0])[-1]
            macs += int(np.prod(out)) * int(k)
    return {"params_bytes": params, "macs": macs}


def estimate(model: onnx.ModelProto, hw_arch: str, max_memory_utilization: float = 1.0) -> dict[str, Any]:
    c = count(model)
    budget = CONTEXT_WEIGHT_BUDGET_BYTES.get(hw_arch, DEFAULT_BUDGET_BYTES) * max_memory_utilization
    contexts = max(1, math.ceil(c["params_bytes"] / budget))
    compute_s = 2 * c["macs"] / (TOPS.get(hw_arch, DEFAULT_TOPS) * 1e12 * EFFICIENCY)
    if contexts == 1:
        fps = MAX_FPS if compute_s <= 0 else min(MAX_FPS, 1.0 / compute_s)
    else:
        fps = 1.0 / (compute_s + contexts * CONTEXT_SWITCH_S)
    return {**c, "contexts": contexts, "bottleneck_fps": round(fps, 3), "latency_ms": round(1000.0 / fps, 4),
            "model": "edgenas fake resource model (not Hailo's numbers)"}
