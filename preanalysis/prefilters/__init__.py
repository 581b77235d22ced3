"""Pre-filters by name, run on the frame source before an encoder (metrics stay against the unfiltered source).

    off            the source as it is
    auto           by the measured source noise σ (noise.py): nothing on clean sources (every pre-filter
                   measured a VMAF loss there); on noisy ones MCTF then an FFT denoise, both scaled with σ
    mctf[:S]       motion-compensated temporal filter (mctf.py) at strength S (0..1, default 1)
    fft[:σ]        FFmpeg's fftdnoiz (fft.py; spatio-temporal FFT, ±1 frame) at noise σ (8-bit units, default 4)
    temporal[:S]   the learned recursive filter (temporal.py) at strength S (default 1)
    A+B            A, then B

    source = filtered(lambda: decode(path), config.encode.prefilter)   # a frame source, filtered
"""

from .spec import parse_prefilter
from .stage import apply_prefilter, filtered, prefilter_version

__all__ = ["apply_prefilter", "filtered", "parse_prefilter", "prefilter_version"]
