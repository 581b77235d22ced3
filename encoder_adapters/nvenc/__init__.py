"""NVENC through the NVIDIA Video Codec SDK (ctypes): api.py binds the SDK, adapter.py registers
`nvenc-h264` and `nvenc-hevc` behind the common EncoderAdapter interface."""

from . import adapter  # noqa: F401  (registers the adapters)
