"""What reposters do to media: re-encode at lower quality, resize, mirror, add a border."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

TRANSFORMS = ("reencode", "resize", "mirror", "border")


def _frame_change(transform: str) -> Callable[[np.ndarray], np.ndarray]:
    if transform == "mirror":
        return lambda rgb: np.ascontiguousarray(rgb[:, ::-1])
    if transform == "border":

        def border(rgb: np.ndarray) -> np.ndarray:
            h, w = rgb.shape[:2]
            top, side = int(h * 0.12), int(w * 0.12)
            out = np.zeros((h + 2 * top, w + 2 * side, 3), dtype=rgb.dtype)
            out[top : top + h, side : side + w] = rgb
            return out

        return border
    return lambda rgb: rgb


def image(data: bytes, transform: str) -> bytes:
    picture = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    if transform in ("resize", "reencode"):
        scale = 0.6 if transform == "resize" else 1.0
        picture = picture.resize(
            (max(1, int(picture.width * scale)), max(1, int(picture.height * scale)))
        )
    else:
        picture = Image.fromarray(_frame_change(transform)(np.asarray(picture)))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=55)
    return out.getvalue()


def video(data: bytes, transform: str) -> bytes:
    scale = 0.6 if transform == "resize" else 1.0
    crf = 36 if transform in ("reencode", "resize") else 28
    change = _frame_change(transform)
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in", Path(folder) / "out.mp4"
        source.write_bytes(data)
        with av.open(str(source)) as src:
            stream_in = src.streams.video[0]
            rate = stream_in.average_rate or Fraction(25)
            frames = [change(f.to_ndarray(format="rgb24")) for f in src.decode(stream_in)]
        height, width = frames[0].shape[:2]
        width, height = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
        with av.open(str(target), mode="w", format="mp4") as out:
            stream = out.add_stream("h264", rate=rate, options={"crf": str(crf)})
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            for rgb in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                for packet in stream.encode(frame.reformat(width=width, height=height)):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return target.read_bytes()
