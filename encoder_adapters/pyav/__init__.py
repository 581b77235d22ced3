"""x264 and x265 through PyAV's FFmpeg, the map attached to every frame as ROI side data (adapter.py)."""

from . import x264, x265  # noqa: F401  (registers the adapters)
