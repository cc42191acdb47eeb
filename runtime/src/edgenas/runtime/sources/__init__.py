"""Frame sources behind one interface (see base.Source), chosen by a SRC spec string.

========================================  ==========================================
SRC                                       source
========================================  ==========================================
``0``, ``1`` … or ``/dev/videoN``          camera through OpenCV (V4L2 on Linux)
``rtsp://…``, ``rtsps://``, ``http(s)://``  network stream (FFmpeg), reconnects on drops
``picamera2`` or ``picamera2:N``           Raspberry Pi camera N, lores stream at model size
``synthetic[:k=v,…]``                      generated frames; keys ``size=WxH``, ``fps``,
                                          ``seed``, ``frames`` (e.g. ``synthetic:fps=30``)
anything else                             a video file path
========================================  ==========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from edgenas.runtime.errors import SourceError
from edgenas.runtime.sources.base import ReconnectPolicy, Source

__all__ = ["ReconnectPolicy", "Source", "SourceSpec", "open_source", "parse_spec"]

_DEVICE = re.compile(r"^/dev/video\d+$")
_SIZE = re.compile(r"^(\d+)x(\d+)$")
# key -> converter for ``synthetic:key=value,...``
_SYNTHETIC_KEYS: dict[str, Any] = {"fps": float, "seed": int, "frames": int, "size": str}


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # camera | stream | picamera2 | synthetic | video
    target: Any  # camera index or path, URL, camera number, file path
    options: dict[str, Any] = field(default_factory=dict)


def _parse_synthetic(rest: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in _SYNTHETIC_KEYS:
            raise SourceError(f"synthetic option {item!r} is not key=value with a key among {sorted(_SYNTHETIC_KEYS)}; "
                              "e.g. synthetic:size=640x480,fps=30,seed=0,frames=300")
        try:
            options[key] = _SYNTHETIC_KEYS[key](value)
        except ValueError as exc:
            raise SourceError(f"synthetic option {item!r}: {exc}") from exc
    if "size" in options:
        m = _SIZE.match(options.pop("size"))
        if not m:
            raise SourceError("synthetic size must be WIDTHxHEIGHT, e.g. size=640x480")
        options["size_hw"] = (int(m.group(2)), int(m.group(1)))
    return options


def parse_spec(spec: str) -> SourceSpec:
    """What a SRC string names; raises SourceError for a malformed one (not for a missing device)."""
    spec = spec.strip()
    if not spec:
        raise SourceError("empty --source; pass a camera index, /dev/videoN, a file, a URL, picamera2 or synthetic")
    if spec.isdigit():
        return SourceSpec("camera", int(spec))
    if _DEVICE.match(spec):
        return SourceSpec("camera", spec)
    scheme = spec.split("://", 1)[0].lower() if "://" in spec else ""
    if scheme in ("rtsp", "rtsps", "http", "https"):
        return SourceSpec("stream", spec)
    if scheme:
        raise SourceError(f"unsupported URL scheme {scheme!r} in {spec!r}; use rtsp://, rtsps://, http:// or https://")
    name, _, rest = spec.partition(":")
    if name == "picamera2":
        if rest and not rest.isdigit():
            raise SourceError(f"picamera2 camera number must be an integer, got {rest!r} (e.g. picamera2:0)")
        return SourceSpec("picamera2", int(rest or 0))
    if name == "synthetic":
        return SourceSpec("synthetic", None, _parse_synthetic(rest))
    return SourceSpec("video", spec)


def open_source(
    spec: str,
    *,
    size_hw: tuple[int, int] | None = None,
    loop: bool = False,
    pace: bool = True,
    reconnect: ReconnectPolicy | None = None,
    stream_timeout_s: float = 5.0,
) -> Source:
    """Open the source a SRC string names.

    ``size_hw`` is the model's input size: Picamera2 delivers its lores stream at that size and
    the synthetic source defaults to it. ``loop`` rewinds video files; ``pace`` plays them at
    their own frame rate; ``reconnect`` bounds stream reconnects.
    """
    parsed = parse_spec(spec)
    if parsed.kind == "camera":
        from edgenas.runtime.sources.camera import CameraSource

        return CameraSource(parsed.target)
    if parsed.kind == "stream":
        from edgenas.runtime.sources.stream import StreamSource

        return StreamSource(parsed.target, reconnect=reconnect, timeout_s=stream_timeout_s)
    if parsed.kind == "picamera2":
        from edgenas.runtime.sources.picam import PicameraSource

        if size_hw is None:
            raise SourceError("picamera2 needs the model input size for its lores stream; pass size_hw")
        return PicameraSource(size_hw, camera_num=parsed.target)
    if parsed.kind == "synthetic":
        from edgenas.runtime.sources.synthetic import DEFAULT_SIZE_HW, SyntheticSource

        options = dict(parsed.options)
        options.setdefault("size_hw", size_hw or DEFAULT_SIZE_HW)
        return SyntheticSource(**options)
    from edgenas.runtime.sources.video import VideoFileSource

    return VideoFileSource(parsed.target, loop=loop, pace=pace)
