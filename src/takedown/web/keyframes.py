"""A video's keyframe strip for review: a few frames spread over the video, as small JPEGs.

A reviewer reads a strip of stills (blurred and grayscale until revealed one by one) instead
of playing the whole video: less exposure, and a scene deep in the video is not missed. The
frames are decoded within the media limits; the last few strips are kept in memory, keyed by
the bytes' digest, so the page and its frame requests decode once.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict

from PIL import Image

from takedown.media import MediaError, MediaLimits
from takedown.media.video import FrameSampling, iter_video_frames, probe_video

STRIP_FRAMES = 6
FRAME_SIDE = 320
_CACHE_SIZE = 16
_cache: OrderedDict[str, tuple[bytes, ...]] = OrderedDict()
_lock = threading.Lock()


def keyframe_strip(
    data: bytes, limits: MediaLimits, count: int = STRIP_FRAMES
) -> tuple[bytes, ...]:
    """Up to ``count`` JPEG stills spread evenly over the video (empty when it cannot be
    decoded: the page then offers the video itself, blurred)."""
    digest = hashlib.sha256(data).hexdigest()
    with _lock:
        if digest in _cache:
            _cache.move_to_end(digest)
            return _cache[digest]
    frames = _decode(data, limits, count)
    with _lock:
        _cache[digest] = frames
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return frames


def _decode(data: bytes, limits: MediaLimits, count: int) -> tuple[bytes, ...]:
    try:
        info = probe_video(data, limits)
        duration = info.duration_s or 0.0
        rate = count / duration if duration > 0 else 1.0
        sampling = FrameSampling(fps=rate, max_side=FRAME_SIDE, fast_decode=True)
        stills = []
        for frame in iter_video_frames(data, limits, sampling):
            out = io.BytesIO()
            Image.fromarray(frame.rgb).save(out, format="JPEG", quality=80)
            stills.append(out.getvalue())
            if len(stills) >= count:
                break
        return tuple(stills)
    except MediaError:
        return ()
