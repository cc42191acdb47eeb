"""edgenas compile: target checks, calibration, Hailo DFC driver, ONNX Runtime quantization."""
