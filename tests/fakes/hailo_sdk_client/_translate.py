"""ONNX -> (HN dict, params) for the fake DFC: op whitelist, end-node cut, static input shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.utils import Extractor

from hailo_sdk_client.model_translator.exceptions import (
    MisspellNodeError,
    ParsingWithRecommendationException,
    UnsupportedModelError,
)

# op -> HN layer type (the fake's own list; the real DFC supports more)
SUPPORTED = {
    "Conv": "conv", "ConvTranspose": "deconv", "BatchNormalization": "batch_norm", "Relu": "activation",
    "LeakyRelu": "activation", "PRelu": "activation", "Sigmoid": "activation", "Tanh": "activation",
    "Elu": "activation", "HardSigmoid": "activation", "HardSwish": "activation", "Clip": "activation",
    "Mul": "ew_mult", "Add": "ew_add", "Sub": "ew_sub", "Div": "ew_div", "MaxPool": "maxpool",
    "AveragePool": "avgpool", "GlobalAveragePool": "avgpool", "GlobalMaxPool": "maxpool", "Gemm": "dense",
    "MatMul": "dense", "Flatten": "format_conversion", "Reshape": "format_conversion",
    "Squeeze": "format_conversion", "Unsqueeze": "format_conversion", "Transpose": "format_conversion",
    "Concat": "concat", "Identity": "identity", "Constant": "const_input", "Dropout": "identity",
    "Pad": "pad", "Softmax": "softmax",
    "ReduceMean": "reduce_mean",
}


def _node_names(model: onnx.ModelProto) -> None:
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"


def _set_input_shapes(model: onnx.ModelProto, inputs: list[str], shapes: dict[str, list[int]] | None) -> None:
    for vi in model.graph.input:
        if vi.name not in inputs:
            continue
        dims = vi.type.tensor_type.shape.dim
        shape = (shapes or {}).get(vi.name)
        if shape is None:
            shape = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
        if len(shape) != 4 or any(int(s) <= 0 for s in shape):
            raise UnsupportedModelError(f"input {vi.name} has shape {shape}; pass a static 4-D shape with "
                                        "net_input_shapes={name: [1, C, H, W]}")
        for d, s in zip(dims, shape, strict=True):
            d.ClearField("dim_param")
            d.dim_value = int(s)


def _needed(model: onnx.ModelProto, outputs: list[str], stop: set[str]) -> list[onnx.NodeProto]:
    producer = {o: n for n in model.graph.node for o in n.output}
    seen: set[str] = set()
    todo = list(outputs)
    while todo:
        t = todo.pop()
        node = producer.get(t)
        if t in stop or node is None or node.name in seen:
            continue
        seen.add(node.name)
        todo += list(node.input)
    return [n for n in model.graph.node if n.name in seen]  # topological (graph order)


def translate(model_path: Any, net_name: str, start_node_names: Sequence[str] | None,
              end_node_names: Sequence[str] | None,
              net_input_shapes: dict[str, list[int]] | None) -> tuple[dict[str, Any], dict[str, np.ndarray], bytes]:
    model = model_path if isinstance(model_path, onnx.ModelProto) else onnx.load(str(model_path))
    _node_names(model)
    inits = {i.name for i in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in inits]
    starts = list(start_node_names or graph_inputs)
    if missing := [s for s in starts if s not in graph_inputs]:
        raise MisspellNodeError(f"Unable to find start node names: {missing}; graph inputs are {graph_inputs}")
    by_name = {n.name: n for n in model.graph.node}
    if end_node_names:
        if missing := [e for e in end_node_names if e not in by_name]:
            raise MisspellNodeError(f"Unable to find end node names: {missing}")
        outputs = [by_name[e].output[0] for e in end_node_names]
    else:
        outputs = [o.name for o in model.graph.output]
    _set_input_shapes(model, starts, net_input_shapes)
    nodes = _needed(model, outputs, set(starts))
    _check_ops(model, nodes, starts)
    model = onnx.shape_inference.infer_shapes(model)
    sub = Extractor(model).extract_model(starts, outputs)
    params = {i.name: numpy_helper.to_array(i) for i in sub.graph.initializer}
    return _hn(net_name, sub, nodes), params, sub.SerializeToString()


def _check_ops(model: onnx.ModelProto, nodes: list[onnx.NodeProto], starts: list[str]) -> None:
    producer = {o: n for n in nodes for o in n.output}
    for node in nodes:
        if node.op_type in SUPPORTED:
            continue
        recommended = sorted({producer[i].name for i in node.input if i in producer})
        if not recommended:
            raise UnsupportedModelError(f"{node.op_type} node {node.name} follows the input directly and is "
                                        "not supported")
        raise ParsingWithRecommendationException(
            f"Unsupported layer {node.name} of type {node.op_type}", recommended)


def _hn(net_name: str, sub: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> dict[str, Any]:
    layers: dict[str, Any] = {}
    for k, vi in enumerate(sub.graph.input, 1):
        if any(vi.name == i.name for i in sub.graph.initializer):
            continue
        n, c, h, w = (d.dim_value for d in vi.type.tensor_type.shape.dim)
        if w == 3 and c != 3:  # an NHWC ONNX input
            h, w, c = c, h, w
        layers[f"{net_name}/input_layer{k}"] = {"type": "input_layer", "original_names": [vi.name],
                                                "input_shapes": [[-1, h, w, c]]}
    counts: dict[str, int] = {}
    for node in nodes:
        kind = SUPPORTED[node.op_type]
        if node.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in node.attribute):
            kind = "dw"
        counts[kind] = counts.get(kind, 0) + 1
        layers[f"{net_name}/{kind}{counts[kind]}"] = {"type": kind, "original_names": [node.name]}
    outs = []
    for k, vi in enumerate(sub.graph.output, 1):
        name = f"{net_name}/output_layer{k}"
        layers[name] = {"type": "output_layer", "original_names": [vi.name]}
        outs.append(name)
    return {"name": net_name, "net_params": {"output_layers_order": outs, "version": "1.0"}, "layers": layers}
