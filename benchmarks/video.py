"""vPDQ hashing speed as a multiple of real time, on one core.

Run: ``make bench-video``. For every shared video (``videos/`` and the reference videos,
which include the 1280x720 ``doorknob-hd``), it times takedown's default sampling (1 frame per
second, fast decode, frames shrunk to 512 px; with the trimmed and mirrored variants takedown
hashes by default) against the reference's native mode (every frame, full decode, full size,
one hash per frame) measured in the same run, and reports the median of several rounds.
"""

from __future__ import annotations

import argparse

from _common import median, require_data, timed_rounds, write_results
from takedown.media import FrameSampling, MediaLimits, probe_video
from takedown.signals import HashOptions, hash_bytes

DEFAULT = HashOptions()
NATIVE = HashOptions(fast=False, trim=False, mirror_video=False, video=FrameSampling(fps=None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = require_data()
    videos = sorted((data / "videos").iterdir()) + sorted(
        (data / "reference" / "vpdq" / "videos").glob("*.mp4")
    )
    rows = []
    for path in videos:
        blob = path.read_bytes()
        info = probe_video(blob, MediaLimits())
        duration = info.duration_s or 0.0
        hash_bytes(blob, DEFAULT, types=("vpdq",))
        default_s = median(
            timed_rounds(lambda b=blob: hash_bytes(b, DEFAULT, types=("vpdq",)), args.rounds)
        )
        native_s = median(timed_rounds(lambda b=blob: hash_bytes(b, NATIVE, types=("vpdq",)), 1))
        row = {
            "video": path.name,
            "size": f"{info.width}x{info.height}",
            "fps": round(info.fps or 0, 2),
            "duration_s": round(duration, 2),
            "default_x_realtime": duration / default_s,
            "native_x_realtime": duration / native_s,
            "speedup_vs_native": native_s / default_s,
        }
        rows.append(row)
        print(
            f"{path.name:36} {row['size']:>9} {duration:6.1f}s"
            f"  default x{row['default_x_realtime']:6.1f}  native x{row['native_x_realtime']:5.1f}",
            flush=True,
        )
    hd = [r for r in rows if r["size"] in ("1280x720", "720x1280")]
    lines = [
        "| video | size | duration s | default: x real time | native: x real time | speed-up |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['video']} | {r['size']} | {r['duration_s']} | x{r['default_x_realtime']:.1f} |"
            f" x{r['native_x_realtime']:.1f} | x{r['speedup_vs_native']:.1f} |"
        )
    summary = {
        "median_default_x_realtime": median([float(r["default_x_realtime"]) for r in rows]),
        "median_720p_default_x_realtime": median([float(r["default_x_realtime"]) for r in hd]),
        "slowest_720p_default_x_realtime": min(float(r["default_x_realtime"]) for r in hd),
    }
    slowest = summary["slowest_720p_default_x_realtime"]
    lines.append("")
    lines.append(
        f"Median over all videos: x{summary['median_default_x_realtime']:.1f} real time; "
        f"720p: x{summary['median_720p_default_x_realtime']:.1f} real time, slowest "
        f"x{summary['slowest_720p_default_x_realtime']:.1f} (goal >= x20 for every one, "
        f"portrait included: {'met' if slowest >= 20 else 'NOT met'})."
    )
    markdown = "\n".join(lines)
    print(markdown)
    write_results("video", {"videos": rows, "summary": summary}, markdown)


if __name__ == "__main__":
    main()
