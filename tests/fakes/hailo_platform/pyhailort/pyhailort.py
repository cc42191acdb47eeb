"""FAKE pyhailort: exceptions, enums, HEF, Device, VDevice. See hailo_platform/__init__.py."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import fakehef

logger = logging.getLogger("hailort")  # stands in for hailort.log


class HailoRTException(Exception):
    pass


class HailoRTTimeout(HailoRTException):
    pass


class HailoRTStreamAborted(HailoRTException):
    pass


class HailoRTStreamAbortedByUser(HailoRTException):
    pass


class HailoRTInvalidOperationException(HailoRTException):
    pass


class HailoRTInvalidArgumentException(HailoRTException):
    pass


class HailoRTNotFoundException(HailoRTException):
    pass


class HailoRTInvalidHEFException(HailoRTException):
    pass


class HailoRTHEFNotCompatibleWithDevice(HailoRTException):
    pass


class HailoRTDriverOperationFailedException(HailoRTException):
    pass


class HailoCommunicationClosedException(HailoRTException):
    pass


def status_error(cls: type[HailoRTException], generic: str, detail: str) -> HailoRTException:
    """Like the real library: a generic message in the exception, the detail in hailort.log."""
    logger.error(detail)
    return cls(f"{generic} (fake hailort.log: {detail})")


def invalid_argument(detail: str) -> HailoRTException:
    return status_error(HailoRTInvalidArgumentException, "Invalid argument. See hailort.log for more information", detail)


class FormatType(IntEnum):
    AUTO = 0
    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3


class FormatOrder(IntEnum):
    AUTO = 0
    NHWC = 1
    NHCW = 2
    FCR = 3
    F8CR = 4
    NHW = 5
    NC = 6
    NCHW = 7
    RGB888 = 8
    HAILO_NMS_BY_CLASS = 9
    HAILO_NMS_BY_SCORE = 10


class HailoSchedulingAlgorithm(IntEnum):
    NONE = 0
    ROUND_ROBIN = 1


class HailoStreamInterface(IntEnum):
    PCIe = 0
    ETH = 1


class DeviceArchitectureTypes(IntEnum):
    HAILO8_A0 = 0
    HAILO8 = 1
    HAILO8L = 2
    HAILO15H = 3
    HAILO15L = 4
    HAILO15M = 5
    HAILO10H = 6

    def __str__(self) -> str:
        return self.name


@dataclass
class Format:
    type: FormatType
    order: FormatOrder


@dataclass
class QuantInfo:
    qp_zp: float
    qp_scale: float
    limvals_min: float
    limvals_max: float


@dataclass
class VStreamInfo:
    name: str
    shape: tuple[int, ...]
    format: Format
    network_name: str


@dataclass
class NetworkGroupInfo:
    name: str
    is_multi_context: bool


def _device_ids() -> list[str]:
    raw = os.environ.get("FAKE_HAILO_DEVICE_IDS", "0000:01:00.0")
    return [d.strip() for d in raw.split(",") if d.strip()]


def _device_arch() -> DeviceArchitectureTypes:
    return DeviceArchitectureTypes[os.environ.get("FAKE_HAILO_ARCH", "HAILO8L").upper()]


def check_hef_compatible(hef_arch: str, device_arch: DeviceArchitectureTypes) -> None:
    """hailo8l HEFs run on Hailo-8 (with a warning); anything else must match the device exactly."""
    hef = hef_arch.upper()
    if hef == device_arch.name:
        return
    if hef == "HAILO8L" and device_arch == DeviceArchitectureTypes.HAILO8:
        logger.warning("HEF was compiled for Hailo8L device, while the device itself is Hailo8. "
                       "This will result in lower performance.")
        return
    raise status_error(HailoRTInvalidHEFException, "Invalid HEF. See hailort.log for more information",
                       f"HEF format is not compatible with device. Device arch: {device_arch.name}, HEF arch: {hef}")


class HEF:
    def __init__(self, hef_source: str | bytes) -> None:
        if isinstance(hef_source, str):
            if not os.path.isfile(hef_source):
                raise HailoRTException("libhailort failed with error: 13 (HAILO_OPEN_FILE_FAILURE)")
            self._path: str | None = hef_source
        elif isinstance(hef_source, bytes):
            self._path = None
        else:
            raise ValueError("HEF can only be created from a file path (str) or a buffer (bytes)")
        try:
            self._fake = fakehef.read_fake_hef(hef_source)
        except fakehef.FakeHefError as exc:
            raise status_error(HailoRTInvalidHEFException, "Invalid HEF. See hailort.log for more information",
                               f"Failed parsing HEF: {exc}") from None

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def fake(self) -> fakehef.FakeHef:  # fake-only accessor
        return self._fake

    def get_network_group_names(self) -> list[str]:
        return [self._fake.header["network_group"]]

    def get_networks_names(self, network_group_name: str | None = None) -> list[str]:
        ng = self._fake.header["network_group"]
        return [f"{ng}/{ng}"]

    def get_network_groups_infos(self) -> list[NetworkGroupInfo]:
        h = self._fake.header
        return [NetworkGroupInfo(h["network_group"], int(h["contexts"]) > 1)]

    def get_input_vstream_infos(self, name: str | None = None) -> list[VStreamInfo]:
        i = self._fake.header["input"]
        return [VStreamInfo(i["name"], tuple(i["shape"]), Format(FormatType.UINT8, FormatOrder.NHWC),
                            self.get_networks_names()[0])]

    def get_output_vstream_infos(self, name: str | None = None) -> list[VStreamInfo]:
        return [VStreamInfo(o["name"], tuple(o["shape"]), Format(FormatType.UINT8, FormatOrder.NC),
                            self.get_networks_names()[0]) for o in self._fake.header["outputs"]]

    def get_sorted_output_names(self, network_group_name: str | None = None) -> list[str]:
        return [o["name"] for o in self._fake.header["outputs"]]

    def bottleneck_fps(self, network_group_name: str | None = None) -> float:
        fps = float(self._fake.header["bottleneck_fps"])
        if fps == 0:
            raise HailoRTException("bottleneck_fps is zero")
        return fps


@dataclass
class BoardInformation:
    board_name: str
    device_architecture: DeviceArchitectureTypes
    firmware_version: str = "4.23.0"
    serial_number: str = "FAKE0001"
    product_name: str = "Fake Hailo"


class _Control:
    def __init__(self, device_id: str) -> None:
        self.device_id = device_id

    def identify(self) -> BoardInformation:
        arch = _device_arch()
        return BoardInformation("Hailo-8", arch)


class Device:
    @classmethod
    def scan(cls) -> list[str]:
        return _device_ids()

    def __init__(self, device_id: str | None = None) -> None:
        ids = _device_ids()
        if not ids:
            raise HailoRTException("libhailort failed with error: 74 (HAILO_OUT_OF_PHYSICAL_DEVICES)")
        if device_id is not None and device_id not in ids:
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
        self._device_id = device_id or ids[0]
        self.control = _Control(self._device_id)

    @property
    def device_id(self) -> str:
        return self._device_id

    def release(self) -> None:
        pass


@dataclass
class VDeviceParams:
    device_ids: list[str] = field(default_factory=list)
    device_count: int = 1
    scheduling_algorithm: HailoSchedulingAlgorithm = HailoSchedulingAlgorithm.ROUND_ROBIN
    group_id: str = "SHARED"
    multi_process_service: bool = False


class VDevice:
    def __init__(self, params: VDeviceParams | None = None, *, device_ids: list[str] | None = None) -> None:
        if params is not None and device_ids is not None:
            raise HailoRTInvalidArgumentException("params and device_ids are mutually exclusive")
        self._params = params or VDevice.create_params()
        available = _device_ids()
        if not available:
            raise HailoRTException("libhailort failed with error: 74 (HAILO_OUT_OF_PHYSICAL_DEVICES)")
        for d in device_ids or []:
            if d not in available:
                raise status_error(HailoRTNotFoundException, "Item not found. See hailort.log for more information",
                                   f"Device {d} was not found")
        self._ids: list[str] | None = list(device_ids or available[: self._params.device_count])
        self.arch = _device_arch()

    @staticmethod
    def create_params() -> VDeviceParams:
        return VDeviceParams()

    def _alive(self) -> list[str]:
        if self._ids is None:
            raise HailoRTInvalidOperationException("VDevice was released")
        return self._ids

    def get_physical_devices_ids(self) -> list[str]:
        return list(self._alive())

    def get_physical_devices(self) -> list[Device]:
        return [Device(d) for d in self._alive()]

    def create_infer_model(self, hef_source: str | bytes, name: str = "") -> Any:
        from hailo_platform.pyhailort._fake_infer import InferModel

        self._alive()
        return InferModel(self, HEF(hef_source), hef_source)

    def release(self) -> None:
        self._ids = None

    def __enter__(self) -> VDevice:
        return self

    def __exit__(self, *args: object) -> bool:
        self.release()
        return False


from hailo_platform.pyhailort._fake_infer import (  # noqa: E402  (the real module defines them here too)
    AsyncInferCompletionInfo,
    AsyncInferJob,
    ConfiguredInferModel,
    InferModel,
)

__all__ = ["AsyncInferCompletionInfo", "AsyncInferJob", "ConfiguredInferModel", "InferModel"]
