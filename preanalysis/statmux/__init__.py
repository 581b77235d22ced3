"""Statistical multiplexing: N channels share one aggregate bitrate.  allocation.py is the pure allocation
(numpy only); run.py measures, encodes and scores channels (it needs the encoders and eval).

    from preanalysis.statmux import allocate_channels
    rates = allocate_channels(complexity, aggregate, min_rate, max_rate)   # channels x windows
"""

from preanalysis.statmux.allocation import allocate_channels

__all__ = ["allocate_channels"]
