"""Encoder-native side files written from per-frame QP maps, for encoders we do not drive in-process.

Every writer takes the per-frame `QpMap`s of preanalysis.qpmap (int8 QP offsets per 16x16 block, full
resolution coordinates; `None` for a frame without a map) and writes its file atomically.

One module per format: qpfile (x264/x265 --qpfile), nvenc (NVENC delta-QP maps), svtav1 (--roi-map-file),
kvazaar (--roi), addroi (ffmpeg filter script), zones (x265 zones); grid stacks the maps on a format's grid.
"""

from .addroi import write_addroi_script
from .grid import stack_offsets
from .kvazaar import kvazaar_roi, write_kvazaar_roi
from .nvenc import NvencMaps, read_nvenc_maps, write_nvenc_maps
from .qpfile import frame_qps, write_qpfile
from .svtav1 import svtav1_offsets, write_svtav1_roi_map
from .zones import x265_zones, write_x265_zones

__all__ = ["NvencMaps", "frame_qps", "kvazaar_roi", "read_nvenc_maps", "stack_offsets", "svtav1_offsets",
           "write_addroi_script", "write_kvazaar_roi", "write_nvenc_maps", "write_qpfile", "write_svtav1_roi_map",
           "write_x265_zones", "x265_zones"]
