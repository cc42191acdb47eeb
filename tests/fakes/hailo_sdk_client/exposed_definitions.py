"""Enums of the DFC API (names from reference/hailo.md §1.2, §1.6)."""

from __future__ import annotations

import enum


class States(str, enum.Enum):
    UNINITIALIZED = "uninitialized"
    HAILO_MODEL = "hailo_model"
    FP_OPTIMIZED_MODEL = "fp_optimized_model"
    QUANTIZED_MODEL = "quantized_model"
    COMPILED_MODEL = "compiled_model"


class InferenceContext(str, enum.Enum):
    SDK_NATIVE = "sdk_native"
    SDK_FP_OPTIMIZED = "sdk_fp_optimized"
    SDK_QUANTIZED = "sdk_quantized"
    SDK_HAILO_HW = "sdk_hailo_hw"


STATE_ORDER = [States.UNINITIALIZED, States.HAILO_MODEL, States.FP_OPTIMIZED_MODEL, States.QUANTIZED_MODEL,
               States.COMPILED_MODEL]
