"""Frame sources: spec parsing, synthetic, video files, cameras that cannot open, streams, Picamera2."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_live_support import mjpeg_server, write_video

from edgenas.runtime.errors import SourceError
from edgenas.runtime.sources import ReconnectPolicy, open_source, parse_spec
from edgenas.runtime.sources.stream import StreamSource, redact
from edgenas.runtime.sources.synthetic import SyntheticSource


@pytest.mark.parametrize(("spec", "kind", "target"), [
    ("0", "camera", 0),
    ("12", "camera", 12),
    ("/dev/video2", "camera", "/dev/video2"),
    ("rtsp://cam.local:554/stream1", "stream", "rtsp://cam.local:554/stream1"),
    ("RTSPS://cam/x", "stream", "RTSPS://cam/x"),
    ("http://10.0.0.5/video.mjpg", "stream", "http://10.0.0.5/video.mjpg"),
    ("https://cam/x", "stream", "https://cam/x"),
    ("picamera2", "picamera2", 0),
    ("picamera2:1", "picamera2", 1),
    ("synthetic", "synthetic", None),
    ("clip.mp4", "video", "clip.mp4"),
    ("/data/videos/a.avi", "video", "/data/videos/a.avi"),
])
def test_parse_spec(spec: str, kind: str, target: Any) -> None:
    parsed = parse_spec(spec)
    assert (parsed.kind, parsed.target) == (kind, target)


def test_parse_synthetic_options() -> None:
    opts = parse_spec("synthetic:size=320x240,fps=15,seed=3,frames=7").options
    assert opts == {"size_hw": (240, 320), "fps": 15.0, "seed": 3, "frames": 7}


@pytest.mark.parametrize("spec", ["", "ftp://host/x", "picamera2:front", "synthetic:colour=red",
                                  "synthetic:size=big", "synthetic:fps=fast", "synthetic:fps"])
def test_bad_specs_are_source_errors(spec: str) -> None:
    with pytest.raises(SourceError):
        parse_spec(spec)


def test_reconnect_policy_backs_off_exponentially_and_is_bounded() -> None:
    assert list(ReconnectPolicy().delays()) == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert list(ReconnectPolicy(tries=6, initial_s=1.0, max_s=3.0).delays()) == [1, 2, 3, 3, 3, 3]
    assert list(ReconnectPolicy(tries=0).delays()) == []
    with pytest.raises(SourceError):
        ReconnectPolicy(tries=3, initial_s=2.0, max_s=1.0)


def test_synthetic_is_deterministic_moving_and_bgr_uint8() -> None:
    a = SyntheticSource((48, 64), seed=5).read()
    src1, src2 = SyntheticSource((48, 64), seed=5), SyntheticSource((48, 64), seed=5)
    seq1 = [src1.read() for _ in range(4)]
    seq2 = [src2.read() for _ in range(4)]
    assert all(f is not None and f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in seq1)
    assert all(np.array_equal(x, y) for x, y in zip(seq1, seq2, strict=True))  # type: ignore[arg-type]
    assert np.array_equal(a, seq1[0])  # type: ignore[arg-type]
    assert not np.array_equal(seq1[0], seq1[1])  # type: ignore[arg-type]
    other = SyntheticSource((48, 64), seed=6).read()
    assert not np.array_equal(other, seq1[0])  # type: ignore[arg-type]


def test_synthetic_finite_and_size_defaults_to_model_size() -> None:
    src = open_source("synthetic:frames=3", size_hw=(20, 30))
    frames = [src.read() for _ in range(5)]
    assert [f is None for f in frames] == [False, False, False, True, True]
    assert frames[0].shape == (20, 30, 3)  # type: ignore[union-attr]
    assert src.info()["frames_read"] == 3
    assert open_source("synthetic:size=40x24").read().shape == (24, 40, 3)  # type: ignore[union-attr]


def test_video_file_reads_every_frame_then_ends(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", frames=12)
    with open_source(str(path), pace=False) as src:
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
        assert src.read() is None
        info = src.info()
    assert len(frames) == 12
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert abs(float(frames[5].mean()) - 50) < 5  # the frames come in order
    assert info["kind"] == "video" and info["frames_read"] == 12


def test_video_file_loops_when_asked(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", frames=5)
    src = open_source(str(path), loop=True, pace=False)
    frames = [src.read() for _ in range(13)]
    src.close()
    assert all(f is not None for f in frames)
    assert src.info()["rewinds"] == 2
    assert abs(float(frames[10].mean()) - 0) < 5  # frame 10 is frame 0 again


def test_missing_and_unreadable_video_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nope.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(SourceError, match="re-encode"):
        open_source(str(junk))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="device nodes are a Linux thing")
@pytest.mark.parametrize("spec", ["99", "/dev/video99"])
def test_unopenable_camera_says_how_to_fix(spec: str) -> None:
    with pytest.raises(SourceError) as err:
        open_source(spec)
    assert "v4l2-ctl --list-devices" in str(err.value) and "--device" in str(err.value)


def test_stream_reads_and_reconnects_after_a_drop() -> None:
    # The server closes each connection after 5 frames, but stays up: the source reconnects.
    with mjpeg_server(frames_per_connection=5, period_s=0.005) as server:
        src = StreamSource(server.url, ReconnectPolicy(tries=3, initial_s=0.01, max_s=0.02), timeout_s=2)
        frames = [src.read() for _ in range(12)]
        src.close()
    assert all(f is not None and f.shape == (48, 64, 3) for f in frames)
    assert src.reconnects >= 2


def test_stream_that_stays_down_raises_after_bounded_reconnects() -> None:
    sleeps: list[float] = []
    with mjpeg_server(period_s=0.005) as server:
        src = StreamSource(server.url, ReconnectPolicy(tries=3, initial_s=0.01, max_s=0.02), timeout_s=2,
                           sleep=sleeps.append)
        assert src.read() is not None
        server.stop()
        with pytest.raises(SourceError, match="3 reconnect attempts"):
            for _ in range(10_000):  # frames already buffered drain first
                src.read()
    assert sleeps == [0.01, 0.02, 0.02]


def test_unreachable_stream_fails_at_open() -> None:
    with mjpeg_server() as server:
        url = server.url
    with pytest.raises(SourceError, match="cannot open stream"):
        StreamSource(url, timeout_s=1)


def test_redact_hides_stream_passwords() -> None:
    assert redact("rtsp://admin:secret@cam:554/s") == "rtsp://admin:***@cam:554/s"
    assert redact("http://cam/x") == "http://cam/x"


def test_picamera2_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(SourceError, match="python3-picamera2"):
        open_source("picamera2", size_hw=(32, 48))


class _FakePicamera2:
    """Models the documented calls: configure a preview config with a lores stream, capture_array('lores')."""

    instances: list[_FakePicamera2] = []

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num, self.config, self.calls = camera_num, None, []
        _FakePicamera2.instances.append(self)

    def create_preview_configuration(self, main: dict, lores: dict, controls: dict) -> dict:
        return {"main": main, "lores": lores, "controls": controls}

    def configure(self, config: dict) -> None:
        self.config = config

    def start(self) -> None:
        self.calls.append("start")

    def capture_array(self, name: str = "main") -> np.ndarray:
        w, h = self.config["lores"]["size"]  # type: ignore[index]
        frame = np.zeros((h, w, 3), np.uint8)
        frame[..., 0] = 200  # byte 0 is blue in RGB888 ("BGR in memory")
        self.calls.append(f"capture:{name}")
        return frame

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


def test_picamera2_uses_a_lores_rgb888_stream_at_model_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=_FakePicamera2))
    _FakePicamera2.instances.clear()
    with open_source("picamera2:1", size_hw=(32, 48)) as src:
        frame = src.read()
    cam = _FakePicamera2.instances[0]
    assert cam.camera_num == 1
    assert cam.config["lores"] == {"size": (48, 32), "format": "RGB888"}  # type: ignore[index]
    assert frame is not None and frame.shape == (32, 48, 3)
    assert frame[0, 0].tolist() == [200, 0, 0]  # passed on as BGR, no colour swap
    assert cam.calls == ["start", "capture:lores", "stop", "close"]
