"""FAKE ``hailo_platform`` (HailoRT 4.23 Python API) for edgenas tests. Not Hailo's code.

Models the documented surface (shared/reference/hailo.md §3, §6) and computes real outputs by
running the ONNX model embedded in a fake HEF (tests/fakes/fakehef.py) with ONNX Runtime, after
applying the HEF's normalization to the uint8 input, as the chip would.

The fake device is set by environment variables, read when a VDevice/Device opens:
    FAKE_HAILO_DEVICE_IDS   comma-separated device ids (default "0000:01:00.0"; "" = no device)
    FAKE_HAILO_ARCH         HAILO8L (default) | HAILO8 | ...
    FAKE_HAILO_LATENCY_MS   simulated time per frame on the device (default 0)
"""

from hailo_platform.pyhailort.pyhailort import (
    HEF,
    AsyncInferJob,
    Device,
    FormatOrder,
    FormatType,
    HailoCommunicationClosedException,
    HailoRTException,
    HailoRTStreamAbortedByUser,
    HailoSchedulingAlgorithm,
    HailoStreamInterface,
    VDevice,
)

__version__ = "4.23.0"

# The real top level exports these (and more: vstream API, Mipi*, power measurement) but not
# InferModel / ConfiguredInferModel, which live in hailo_platform.pyhailort.pyhailort.
__all__ = ["HEF", "AsyncInferJob", "Device", "FormatOrder", "FormatType", "HailoCommunicationClosedException",
           "HailoRTException", "HailoRTStreamAbortedByUser", "HailoSchedulingAlgorithm", "HailoStreamInterface",
           "VDevice", "__version__"]
