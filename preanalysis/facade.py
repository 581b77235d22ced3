"""Analyse and encode in one call, one decode: what most users want, and what a farm worker holds.

    import preanalysis
    preanalysis.encode("in.mp4", "out.mp4", encoder="x264", crf=23)          # the default config
    p = preanalysis.Preanalysis("salience")                                  # a config, reused per title
    p.encode("a.mp4", "a_out.mp4", crf=27); p.encode("b.mp4", "b_out.mp4", bitrate_kbps=3000)
    preanalysis.Preanalysis("regions").encode("a.mp4", "a_out.mp4", crf=27, regions="a_people.json")  # per title

The frames are decoded once per encoder pass and go through the analysis on their way to the encoder
(the analysis runs a few frames ahead; each frame's QP map is ready when the encoder asks for it).  With
2-pass, each pass decodes and analyses again: the analysis costs little next to the encoder, and no pass
holds the maps of a whole title.  With a segment budget (allocate.segment scene|gop) a map is known only once
its segment closes, so the analysis reads a decode of its own ahead of the encoder's: two decodes per pass,
and memory holds one segment's analysis, not its full-size frames.  The config's encoder settings and
pre-filter apply, as in `preanalysis encode`; the pre-filter changes what the encoder sees, never what the
analysis sees.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from encoder_adapters import EncodeResult, EncodeSettings, encode_frames

from . import video
from .config import Config, RoiFile, for_encoder, from_dict, load_config
from .errors import PreanalysisError
from .io import check_output_path
from .maps import load_maps
from .pipeline import FrameAnalysis, analyze, analyze_frames
from .prefilters import filtered
from .qpmap import QpMap


Regions = str | Path | tuple | Sequence | None  # a title's region files: path, (path, weight), or a list of them


class Preanalysis:
    """An analysis config (a Config, a YAML path, a preset name, or None for the default) and what it
    does to titles: analyse them, or analyse and encode them."""

    def __init__(self, config: Config | str | Path | None = None):
        self.config = config if isinstance(config, Config) else load_config(config)

    def config_for(self, regions: Regions = None) -> Config:
        """This config with one title's region files added (salience.roi_files): a path, or several, each
        optionally as (path, weight).  Regions belong to a title, the config to every title it analyses."""
        if not regions:
            return self.config
        files = []
        for r in [regions] if isinstance(regions, (str, Path, tuple)) else list(regions):
            if isinstance(r, tuple) and len(r) != 2:
                raise PreanalysisError(f"regions {r!r}: give a path or a (path, weight) pair")
            files.append(RoiFile(str(r[0]), float(r[1])) if isinstance(r, tuple) else RoiFile(str(r)))
        data = self.config.to_dict()
        data["salience"]["roi_files"] += [asdict(f) for f in files]
        return from_dict(Config, data)

    def analyze(self, input: str | Path, start: int = 0, stop: int | None = None,
                progress: bool = False, regions: Regions = None) -> Iterator[FrameAnalysis]:
        return analyze(input, self.config_for(regions), start, stop, progress)

    def settings(self, encoder: str = "x264", crf: float | None = None, bitrate_kbps: float | None = None,
                 preset: str | None = None, params: dict[str, str] | None = None) -> EncodeSettings:
        """The encode settings: the config's encoder params, then `params` over them."""
        return EncodeSettings(encoder, crf=crf, bitrate_kbps=bitrate_kbps, preset=preset,
                              params={**self.config.encode.params(encoder), **(params or {})})

    def encode(self, input: str | Path, output: str | Path, encoder: str = "x264", crf: float | None = None,
               bitrate_kbps: float | None = None, preset: str | None = None, params: dict[str, str] | None = None,
               maps: str | Path | None = None, use_map: bool = True, progress: bool = False, start: int = 0,
               stop: int | None = None, regions: Regions = None) -> EncodeResult:
        """Encode frames [start, stop) of `input` into `output` with the QP maps of this config's analysis
        (or those of a maps file from `preanalysis analyze`; or none with use_map=False: the same encode
        without a map, the baseline); `regions`: the title's region files (config_for)."""
        return self.encode_with(input, output, self.settings(encoder, crf, bitrate_kbps, preset, params), maps,
                                use_map, progress, start, stop, regions)

    def encode_with(self, input: str | Path, output: str | Path, settings: EncodeSettings,
                    maps: str | Path | None = None, use_map: bool = True, progress: bool = False, start: int = 0,
                    stop: int | None = None, regions: Regions = None) -> EncodeResult:
        """encode() with the encode settings given whole (the config's encoder params are not added)."""
        check_output_path(output, *[p for p in (input, maps) if p])
        info = video.probe(input)
        config = self.config_for(regions)
        prefilter = config.encode.prefilter
        if not use_map:
            source, qp_for_frame = filtered(lambda: video.decode(input, start, stop), prefilter), None
        elif maps is not None:
            whole = start == 0 and stop is None
            source = filtered(lambda: video.decode(input, start, stop), prefilter)
            qp_for_frame = load_maps(maps).check_video(info, whole).qp_for_frame
        else:
            step = AnalysedFrames(input, info, for_encoder(config, settings.encoder), start, stop)
            source, qp_for_frame = filtered(step.frames, prefilter), step.qp_for_frame
        return encode_frames(source, info, output, settings, qp_for_frame, progress=progress)


class AnalysedFrames:
    """A frame source for an encoder that analyses each frame on the way: frames() decodes and analyses
    (once per call: once per encoder pass) and qp_for_frame(i) gives frame i's map, computed by then."""

    def __init__(self, path: str | Path, info: video.VideoInfo, config: Config, start: int, stop: int | None):
        self.path, self.info, self.config, self.start, self.stop = path, info, config, start, stop
        self.maps: dict[int, QpMap] = {}

    def frames(self) -> Iterator[video.DecodedFrame]:
        self.maps.clear()
        decoded = video.decode(self.path, self.start, self.stop)
        if self.config.allocate.segment == "frame":  # each map is ready as its frame is analysed
            for fa in analyze_frames(decoded, self.info, self.config, keep_frames=True):
                self.maps[fa.index] = fa.qp
                yield fa.decoded
            return
        # A segment's maps exist only once the segment closes: the analysis runs on a decode of its own, ahead
        # of the encoder's, so what waits is the segment's analysis, never its full-size frames.
        analysed = analyze_frames(video.decode(self.path, self.start, self.stop), self.info, self.config)
        for d in decoded:
            while d.index not in self.maps:
                fa = next(analysed, None)
                if fa is None:
                    raise PreanalysisError(f"the analysis of {self.path} ended before frame {d.index}: the file "
                                           "decodes differently each time; remux it (ffmpeg -i IN -c copy OUT)")
                self.maps[fa.index] = fa.qp
            yield d

    def qp_for_frame(self, index: int) -> QpMap:
        try:
            return self.maps.pop(index)
        except KeyError:
            raise PreanalysisError(f"no analysis for frame {index} of {self.path}: the frames reached the encoder "
                                   "out of order (a pre-filter that reorders frames?)") from None


def encode(input: str | Path, output: str | Path, encoder: str = "x264", crf: float | None = None,
           bitrate_kbps: float | None = None, preset: str | None = None, params: dict[str, str] | None = None,
           config: Config | str | Path | None = None, **options) -> EncodeResult:
    """Analyse `input` with `config` and encode it with the maps (see Preanalysis.encode for the options)."""
    return Preanalysis(config).encode(input, output, encoder, crf, bitrate_kbps, preset, params, **options)
