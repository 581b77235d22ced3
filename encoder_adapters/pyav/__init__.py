"""x264, x265 and VP9 (realtime) through PyAV's FFmpeg, the map attached to every frame as ROI side data
(adapter.py)."""

from . import vp9, x264, x265  # noqa: F401  (registers the adapters)
