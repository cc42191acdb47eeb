"""FAKE InferModel API (HailoRT >= 4.18): InferModel, ConfiguredInferModel, Bindings, AsyncInferJob.

Inference runs the HEF's embedded ONNX with ONNX Runtime on a worker thread, one frame at a time,
like a device that queues jobs; the uint8 input is normalized with the HEF's mean/std first.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hailo_platform.pyhailort.pyhailort import (
    HEF,
    Format,
    FormatOrder,
    FormatType,
    HailoRTException,
    HailoRTInvalidOperationException,
    HailoRTNotFoundException,
    HailoRTTimeout,
    QuantInfo,
    check_hef_compatible,
    invalid_argument,
)

_DTYPES = {FormatType.UINT8: np.uint8, FormatType.UINT16: np.uint16, FormatType.FLOAT32: np.float32}
ASYNC_QUEUE_SIZE = 4


def _pick(names: list[str], name: str, what: str) -> str:
    if name == "" and len(names) == 1:
        return names[0]
    if name not in names:
        raise HailoRTNotFoundException(f"Item not found. See hailort.log for more information ({what} {name!r})")
    return name


class _StreamState:
    def __init__(self, name: str, shape: tuple[int, ...], quant: QuantInfo, order: FormatOrder) -> None:
        self.name, self.shape, self.quant = name, shape, quant
        self.format = Format(FormatType.AUTO, order)

    def dtype(self) -> Any:
        t = FormatType.UINT8 if self.format.type == FormatType.AUTO else self.format.type
        return _DTYPES[t]

    def frame_size(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype()).itemsize


class InferModel:
    class InferStream:
        def __init__(self, state: _StreamState) -> None:
            self._s = state

        @property
        def name(self) -> str:
            return self._s.name

        @property
        def shape(self) -> tuple[int, ...]:
            return self._s.shape

        @property
        def format(self) -> Format:
            return self._s.format

        def set_format_type(self, type: FormatType) -> None:  # noqa: A002 (the real signature)
            if not isinstance(type, FormatType):
                raise invalid_argument(f"unknown format type {type!r}")
            self._s.format.type = type

        def set_format_order(self, order: FormatOrder) -> None:
            self._s.format.order = FormatOrder(order)

        @property
        def quant_infos(self) -> list[QuantInfo]:
            return [self._s.quant]

        @property
        def is_nms(self) -> bool:
            return False

    def __init__(self, vdevice: Any, hef: HEF, hef_source: str | bytes) -> None:
        self._vdevice, self._hef, self._hef_source = vdevice, hef, hef_source
        h = hef.fake.header
        self._inputs = {h["input"]["name"]: _StreamState(h["input"]["name"], tuple(h["input"]["shape"]),
                                                         QuantInfo(0.0, 1.0, 0.0, 255.0), FormatOrder.NHWC)}
        self._outputs = {o["name"]: _StreamState(o["name"], tuple(o["shape"]), QuantInfo(
            o["qp_zp"], o["qp_scale"], -o["qp_zp"] * o["qp_scale"], (255 - o["qp_zp"]) * o["qp_scale"]),
            FormatOrder.NC) for o in h["outputs"]}
        self._batch_size = 0  # HAILO_DEFAULT_BATCH_SIZE

    @property
    def hef(self) -> HEF:
        return self._hef

    @property
    def input_names(self) -> list[str]:
        return list(self._inputs)

    @property
    def output_names(self) -> list[str]:
        return list(self._outputs)

    @property
    def inputs(self) -> list[InferModel.InferStream]:
        return [self.InferStream(s) for s in self._inputs.values()]

    @property
    def outputs(self) -> list[InferModel.InferStream]:
        return [self.InferStream(s) for s in self._outputs.values()]

    def input(self, name: str = "") -> InferModel.InferStream:
        return self.InferStream(self._inputs[_pick(self.input_names, name, "input")])

    def output(self, name: str = "") -> InferModel.InferStream:
        return self.InferStream(self._outputs[_pick(self.output_names, name, "output")])

    def set_batch_size(self, batch_size: int) -> None:
        if not isinstance(batch_size, int) or batch_size < 0:
            raise invalid_argument(f"invalid batch size {batch_size!r}")
        self._batch_size = batch_size

    def configure(self) -> ConfiguredInferModel:
        self._vdevice._alive()
        check_hef_compatible(self._hef.fake.hw_arch, self._vdevice.arch)
        return ConfiguredInferModel(self)


class _BindingStream:
    def __init__(self, state: _StreamState) -> None:
        self._s, self._buffer = state, None

    def set_buffer(self, buffer: np.ndarray) -> None:
        if not buffer.flags.c_contiguous:
            raise HailoRTException("Buffer must be C_CONTIGUOUS")
        if buffer.nbytes != self._s.frame_size():
            raise invalid_argument(f"Input buffer size {buffer.nbytes} is different than expected {self._s.frame_size()}")
        self._buffer = buffer

    def get_buffer(self, tf_format: bool = False) -> np.ndarray:
        if self._buffer is None:
            raise HailoRTInvalidOperationException("no buffer was set")
        return self._buffer


class Bindings:
    def __init__(self, cim: ConfiguredInferModel) -> None:
        self._in = {n: _BindingStream(s) for n, s in cim._inputs.items()}
        self._out = {n: _BindingStream(s) for n, s in cim._outputs.items()}

    def input(self, name: str = "") -> _BindingStream:
        return self._in[_pick(list(self._in), name, "input")]

    def output(self, name: str = "") -> _BindingStream:
        return self._out[_pick(list(self._out), name, "output")]

    def get(self) -> Bindings:
        return self


class AsyncInferCompletionInfo:
    def __init__(self, exception: BaseException | None) -> None:
        self._exception = exception

    @property
    def exception(self) -> BaseException | None:
        return self._exception


class AsyncInferJob:
    def __init__(self, future: cf.Future[None]) -> None:
        self._future = future

    def wait(self, timeout_ms: int) -> None:
        try:
            self._future.result(timeout=timeout_ms / 1000)
        except cf.TimeoutError:
            raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred") from None


class ConfiguredInferModel:
    def __init__(self, model: InferModel) -> None:
        import onnxruntime as ort

        fake = model.hef.fake
        self._model, self._header = model, fake.header
        # formats are fixed at configure time, as in HailoRT
        self._inputs = {n: _copy(s) for n, s in model._inputs.items()}
        self._outputs = {n: _copy(s) for n, s in model._outputs.items()}
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self._session: Any = ort.InferenceSession(fake.onnx_bytes, so, providers=["CPUExecutionProvider"])
        norm = fake.header["normalization"]
        self._mean = np.asarray(norm["mean"] or [0.0] * 3, np.float32)
        self._std = np.asarray(norm["std"] or [1.0] * 3, np.float32)
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-hailo")
        self._pending = 0
        self._cond = threading.Condition()

    def __enter__(self) -> ConfiguredInferModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _alive(self) -> None:
        if self._session is None:
            raise HailoRTInvalidOperationException("ConfiguredInferModel was shut down")

    def shutdown(self) -> None:
        if self._session is not None:
            self._pool.shutdown(wait=True)
            self._session = None

    def activate(self) -> None:
        raise HailoRTInvalidOperationException("activate is not allowed while the scheduler is enabled")

    deactivate = activate

    def create_bindings(self, input_buffers: dict[str, np.ndarray] | None = None,
                        output_buffers: dict[str, np.ndarray] | None = None) -> Bindings:
        self._alive()
        b = Bindings(self)
        for n, buf in (input_buffers or {}).items():
            b.input(n).set_buffer(buf)
        for n, buf in (output_buffers or {}).items():
            b.output(n).set_buffer(buf)
        return b

    def get_async_queue_size(self) -> int:
        return ASYNC_QUEUE_SIZE

    def wait_for_async_ready(self, timeout_ms: int = 1000, frames_count: int = 1) -> None:
        self._alive()
        with self._cond:
            ok = self._cond.wait_for(lambda: self._pending + frames_count <= ASYNC_QUEUE_SIZE, timeout_ms / 1000)
        if not ok:
            raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")

    def run(self, bindings: list[Bindings], timeout: int) -> None:
        self.run_async(bindings).wait(timeout)

    def run_async(self, bindings: list[Bindings], callback: Callable[..., None] | None = None) -> AsyncInferJob:
        self._alive()
        for b in bindings:
            for s in (*b._in.values(), *b._out.values()):
                if s._buffer is None:
                    raise HailoRTInvalidOperationException(f"no buffer set for {s._s.name}")
        with self._cond:
            self._pending += len(bindings)
        return AsyncInferJob(self._pool.submit(self._job, list(bindings), callback))

    def _job(self, bindings: list[Bindings], callback: Callable[..., None] | None) -> None:
        error: BaseException | None = None
        try:
            for b in bindings:
                self._infer_one(b)
        except BaseException as exc:  # reported through the callback and job.wait, like HailoRT
            error = exc
        finally:
            with self._cond:
                self._pending -= len(bindings)
                self._cond.notify_all()
        if callback is not None:
            callback(completion_info=AsyncInferCompletionInfo(error))
        if error is not None:
            raise error

    def _infer_one(self, b: Bindings) -> None:
        latency_ms = float(os.environ.get("FAKE_HAILO_LATENCY_MS", "0") or 0)
        if latency_ms:
            time.sleep(latency_ms / 1000)
        (stream,) = b._in.values()
        x = stream._buffer.reshape(stream._s.shape)  # type: ignore[union-attr]
        if x.dtype != np.uint8:  # a FLOAT32/UINT16 input is quantized on the host (identity quant info)
            x = np.clip(np.rint(x.astype(np.float32)), 0, 255).astype(np.uint8)
        xf = (x.astype(np.float32) - self._mean) / self._std
        oi = self._header["onnx_input"]
        feed = (xf.transpose(2, 0, 1) if oi["layout"] == "NCHW" else xf)[None]
        names = [o["onnx_name"] for o in self._header["outputs"]]
        ys = self._session.run(names, {oi["name"]: np.ascontiguousarray(feed, np.float32)})
        for o, y in zip(self._header["outputs"], ys, strict=True):
            out = b._out[o["name"]]
            dtype, q = out._s.dtype(), out._s.quant
            if dtype != np.float32:
                hi = np.iinfo(dtype).max
                y = np.clip(np.rint(y / q.qp_scale + q.qp_zp), 0, hi)
            flat = out._buffer.reshape(-1).view(np.uint8)  # type: ignore[union-attr]
            flat[:] = np.ascontiguousarray(y, dtype=dtype).reshape(-1).view(np.uint8)


def _copy(s: _StreamState) -> _StreamState:
    c = _StreamState(s.name, s.shape, s.quant, s.format.order)
    c.format.type = s.format.type
    return c
