"""Compile targets and the Hailo operator table, as data.

The operator lists follow what the Hailo Dataflow Compiler 3.x parses for classification
networks (reference/hailo.md §1.3, §5.3): convolutions, pooling, element-wise arithmetic,
the usual activations and a fully connected head. They are our documented working list, not
Hailo's official table; an op missing here is reported as "not on the supported list".
"""

from __future__ import annotations

from dataclasses import dataclass

from edgenas.compile.errors import CompileError


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "hailo" or "onnxruntime"
    hw_arch: str | None = None
    opset_min: int = 1
    opset_max: int = 99
    opset_recommended: tuple[int, int] = (11, 17)


TARGETS: dict[str, Target] = {
    # DFC 3.x parses opsets 8..17 in practice; 11..13 is what public recipes use (hailo.md §5.3).
    "hailo8l": Target("hailo8l", "hailo", hw_arch="hailo8l", opset_min=8, opset_max=17, opset_recommended=(11, 13)),
    "hailo8": Target("hailo8", "hailo", hw_arch="hailo8", opset_min=8, opset_max=17, opset_recommended=(11, 13)),
    "onnxruntime-cpu": Target("onnxruntime-cpu", "onnxruntime", opset_min=7, opset_max=21, opset_recommended=(11, 21)),
}

HAILO_TARGETS = tuple(n for n, t in TARGETS.items() if t.kind == "hailo")

# Ops the DFC maps to on-chip layers (with a note where a condition applies).
HAILO_SUPPORTED_OPS: dict[str, str] = {
    "Conv": "convolution, including depthwise (group == channels)",
    "ConvTranspose": "deconvolution",
    "BatchNormalization": "folded into the preceding convolution",
    "Relu": "", "LeakyRelu": "", "PRelu": "", "Sigmoid": "", "Tanh": "", "Elu": "",
    "HardSigmoid": "", "HardSwish": "", "Clip": "relu6 when min=0, max=6",
    "Mul": "element-wise or by a constant", "Add": "", "Sub": "", "Div": "by a constant",
    "MaxPool": "", "AveragePool": "", "GlobalAveragePool": "", "GlobalMaxPool": "",
    "Gemm": "fully connected", "MatMul": "fully connected when one side is a constant",
    "Flatten": "before a fully connected layer", "Reshape": "before a fully connected layer",
    "Squeeze": "before a fully connected layer", "Unsqueeze": "",
    "Concat": "along channels", "Identity": "", "Dropout": "removed at export",
    "Constant": "folded into the layer that uses it",
    "Pad": "constant padding", "Softmax": "on the last axis", "ReduceMean": "over spatial axes",
    "Transpose": "only at the input or before a fully connected layer",
}

# Ops that commonly break parsing, with the fix (hailo.md §5.3).
HAILO_FLAGGED_OPS: dict[str, str] = {
    "Resize": "the DFC maps only some Resize modes; resize outside the model (the manifest's size_hw) "
              "or use nearest x2 upsampling, or cut the graph before it with end_node_names",
    "Upsample": "deprecated op; export with a newer opset as Resize, or resize outside the model",
    "Erf": "GELU/Erf is not supported on Hailo-8/8L; use ReLU, HardSwish or SiLU (Sigmoid*x) in the network",
    "Gelu": "GELU is not supported on Hailo-8/8L; use ReLU, HardSwish or SiLU (Sigmoid*x)",
    "LayerNormalization": "use BatchNormalization in convolutional networks",
    "Shape": "dynamic shape computation; export with static shapes (torch.onnx.export without dynamic_axes) "
             "and run onnx-simplifier",
    "Gather": "usually comes from dynamic shape code; export with static shapes and simplify",
    "NonMaxSuppression": "cut the graph before NMS (end_node_names) and run NMS on the host",
    "Loop": "control flow is not supported; unroll it", "If": "control flow is not supported; remove it",
    "ScatterND": "not supported; move it to host post-processing",
    "Einsum": "rewrite as MatMul/Conv", "TopK": "run top-k on the host",
    "ArgMax": "run argmax on the host (cut the graph before it)",
}

ORT_NEEDS_NOTHING = "ONNX Runtime runs every standard op; the check loads the model into a session instead"


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise CompileError(f"unknown target {name!r}; choose one of {sorted(TARGETS)}")
    return TARGETS[name]


def hailo_target(name: str) -> Target:
    target = get_target(name)
    if target.kind != "hailo":
        raise CompileError(
            f"target {name!r} is not a Hailo chip; `edgenas compile hef` needs one of {list(HAILO_TARGETS)} "
            "(for the CPU use `edgenas compile quantize`)"
        )
    return target
