"""SVT-AV1 through its own library (ctypes on the libSvtAv1Enc 4.1 that PyAV bundles), a ROI map per picture:
library.py (bindings, layouts checked against the v4.1.0 headers), roi.py (maps -> ROI events, the
`--roi-map-file` format), session.py (one pass), output.py (the muxer), adapter.py (the registered `svtav1`)."""

from .adapter import SvtAv1
from .session import SvtAv1Session

__all__ = ["SvtAv1", "SvtAv1Session"]
