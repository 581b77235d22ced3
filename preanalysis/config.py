"""Configuration as dataclasses, loaded from YAML with strict validation; the CLI builds its options from them."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import PreanalysisError


@dataclass
class Roi:
    """A user-drawn region of interest in full-resolution pixels, active on frames [start, end)."""

    x: int
    y: int
    width: int
    height: int
    weight: float = 1.0  # added to the 0..1 salience score inside the rectangle (negative = fewer bits)
    start: int = 0
    end: int | None = None

    def __post_init__(self):
        _check(self.width > 0 and self.height > 0, "roi width and height must be > 0")
        _check(self.x >= 0 and self.y >= 0, "roi x and y must be >= 0")
        _check(-4 <= self.weight <= 4, "roi weight must be within [-4, 4]")
        _check(self.end is None or self.end > self.start >= 0, "roi needs 0 <= start < end")

    def active(self, frame_index: int) -> bool:
        return self.start <= frame_index and (self.end is None or frame_index < self.end)


@dataclass
class RoiFile:
    """Regions of interest from a region file (JSON tracks of key boxes, CSV boxes or a mask video:
    preanalysis.region_files), for regions that move: `weight` is added to the 0..1 salience score inside
    them."""

    path: str
    weight: float = 1.0

    def __post_init__(self):
        _check(bool(self.path), "salience.roi_files needs a path for each file")
        _check(-4 <= self.weight <= 4, "roi file weight must be within [-4, 4]")


@dataclass
class StandAside:
    """With normalise evidence: in a frame where map `when` is confident somewhere (> 0.5), the weighted maps in
    `drop` stand aside (say a face was found: the motion maps and the prior, which mark much that nobody looks
    at, no longer count in that frame)."""

    when: str
    drop: list[str] = field(default_factory=list)

    def __post_init__(self):
        _check(bool(self.when) and bool(self.drop), "salience.stand_aside needs a map `when` and the maps to `drop`")
        _check(self.when not in self.drop, f"salience.stand_aside: {self.when!r} cannot drop itself")


TEACHER_METRICS = {"neg": ("neg",), "vmaf": ("vmaf",), "both": ("vmaf", "neg")}
CODE_SOURCE = ("none", "guard", "all")


@dataclass
class AnalysisConfig:
    """Where and how the analysers run."""

    max_width: int = 640  # analysis resolution: the source is downscaled by an integer factor to fit
    analysers: list[str] = field(default_factory=list)  # extra analysers to run although no weight uses them
    device: str = "auto"  # torch device for learned analysers: auto | cpu | cuda
    max_scene_frames: int = 300  # analyser state resets at scene cuts and at least this often
    stabilise: bool = False  # steady the salience mask over time with the learned stabiliser (flow-warped)
    weights: dict[str, str] = field(default_factory=dict)  # learned analyser (or "stabilise") -> weights file
    # the metric whose gradient the vmaf_teacher analyser reads: neg (VMAF-NEG) | vmaf | both (the mean of the two
    # metrics' log2 weights, one more gradient pass)
    teacher_metric: str = "neg"
    # the vmaf_teacher analyser scores every teacher_every-th frame; the frames between keep the last map (4: as
    # every figure of the vmaf-teacher preset was measured; 2 scores twice as many frames at about twice the cost)
    teacher_every: int = 4
    # each vmaf_teacher map averages the log2 weights of this many scored frames, its own in the middle (in a closed
    # segment; per frame: the last ones); 0 = all of the segment's (per frame: of the scene so far); 1 = its own
    teacher_window: int = 1
    # which encodes of the analysis luma code the frames as the source has them (its chroma, area-resized, at its
    # frame rate: video.SourceCoding): none (grey at 25 fps: no bits go to colour, and x264's CRF
    # codes other QPs than at the source's rate), guard (the segment guard's; on native samples, verify_resolution
    # native or whole, the source's rate with grey chroma), all (the vmaf_teacher analyser's too;
    # the guard then re-uses its encodes without a map where their settings agree).  guard by default, with
    # allocate.verify_params encode: the guard's estimate then ranks eval's own at Spearman 0.85, not 0.63, and no seen
    # cut stayed above +1 % (docs/splits.md, 2026-12-01)
    code_source: str = "guard"

    def __post_init__(self):
        _check(64 <= self.max_width <= 4096, "analysis.max_width must be within [64, 4096]")
        _check(16 <= self.max_scene_frames <= 100000, "analysis.max_scene_frames must be within [16, 100000]")
        _check(self.device in ("auto", "cpu", "cuda"), "analysis.device must be auto, cpu or cuda")
        _check(self.teacher_metric in TEACHER_METRICS, "analysis.teacher_metric must be neg, vmaf or both")
        _check(1 <= self.teacher_every <= 64, "analysis.teacher_every must be within [1, 64]")
        _check(self.teacher_window == 0 or (1 <= self.teacher_window <= 63 and self.teacher_window % 2),
               "analysis.teacher_window must be 0 (all of a segment's scored frames) or odd within [1, 63]")
        _check(self.code_source in CODE_SOURCE, "analysis.code_source must be none, guard or all")


def _default_weights() -> dict[str, float]:
    # Tuned for VMAF per bit (configs/default.yaml says how); at the tuned strength they barely move bits.
    return {"texture": 1.51, "motion": -1.0, "foreground": 0.93}


@dataclass
class SalienceConfig:
    """How the analysers' maps combine into the 0..255 mask."""

    weights: dict[str, float] = field(default_factory=_default_weights)
    rois: list[Roi] = field(default_factory=list)
    roi_files: list[RoiFile] = field(default_factory=list)
    # weights (stable scale) | rank (per-frame ranks: full contrast) | top (top fifth) | evidence (each pixel's
    # strongest weighted map: content evidence marks its own extent; weights >= 0)
    normalise: str = "weights"
    # with normalise evidence: evidence grown by this many 16x16 blocks (covers an object to its edges), and
    # where priors (the centre) count: pixel = wherever evidence is weaker; frame = only in frames with no evidence
    grow: int = 0
    prior: str = "pixel"
    # with normalise evidence: maps that stand aside in frames where another is confident (e.g. when: still_camera,
    # the still_foreground analyser's sign of a still camera with a trusted background: what moves off it is the
    # evidence, and frame-pair motion and priors only add noise)
    stand_aside: list[StandAside] = field(default_factory=list)

    def __post_init__(self):
        _check(self.normalise in ("weights", "rank", "top", "evidence"),
               "salience.normalise must be weights, rank, top or evidence")
        _check(0 <= self.grow <= 8, "salience.grow must be within [0, 8] blocks")
        _check(self.prior in ("pixel", "frame"), "salience.prior must be pixel or frame")
        _check(self.normalise == "evidence" or (self.grow == 0 and self.prior == "pixel"),
               "salience.grow and salience.prior take normalise evidence")
        for name, w in self.weights.items():
            _check(isinstance(w, (int, float)) and -10 <= w <= 10, f"salience weight {name!r} must be within [-10, 10]")
            _check(self.normalise != "evidence" or w >= 0, f"salience weight {name!r} must be >= 0 with normalise evidence")
        _check(not self.stand_aside or self.normalise == "evidence", "salience.stand_aside takes normalise evidence")
        for rule in self.stand_aside:
            for name in rule.drop:
                _check(self.weights.get(name, 0) != 0,
                       f"salience.stand_aside drops {name!r}, which has no salience weight: drop only weighted maps")


@dataclass
class AllocateConfig:
    """How the mask turns into QP offsets (see preanalysis.allocate)."""

    strength: float = 0.02  # tuned for VMAF per bit: the mask nearly off (bits move by `sensitivity`, below)
    floor: float = 0.5
    min_offset: int = -5
    max_offset: int = 5
    # The budget: frame = every frame at its own no-map bits; scene = each scene (analysis segment) at its
    # no-map bits; gop = consecutive whole scenes of >= segment_frames frames (a segment closes at the first cut
    # after that many; the farm's chunks are whole segments).  A segment is held back until it closes, so the
    # encoder's lookahead grows to its length (memory: its frames).
    segment: str = "gop"
    segment_frames: int = 250
    frame_qp_range: float = 4.0  # how far one frame's mean offset may move from its segment's
    # The map's offsets on a frame that starts an analysis scene (where the encoder puts its I frame at a cut: every
    # later frame predicts from it) are multiplied by this.  0 = none: that frame costs its no-map bits and, under a
    # segment budget, the segment's other frames share the rest (the salience preset: what a viewer-salience map
    # takes from an I frame's background costs the whole scene); > 1 = more contrast there (a VMAF sensitivity map
    # earns much of its gain on that frame).
    scene_start_gain: float = 1.0
    # On a frame that does not start a scene, blocks whose mean |luma - the previous frame's| (analysis resolution,
    # 8-bit levels) is below this keep no offset and cost their no-map bits (allocate.still_blocks); 0 = off.
    still_block_levels: float = 0.0
    # Frame-level temporal masking (VMAF motion2, from the temporal_masking analyser): offset = gain * (log2(1 +
    # motion2) - segment mean), per frame or per scene (temporal_unit); 0 = off; unused with segment = frame.
    temporal_gain: float = 2.0
    temporal_unit: str = "frame"
    # ... applied to a segment only where its frames' log2(1 + motion2) spread (standard deviation) reaches this:
    # the rule fitted on r11's fit clips (spread 0.80 bikes, 0.82 openboard gained; 0.64 bigbuckbunny, 0.37
    # carphone lost; below 0.2 nothing moved).
    temporal_min_spread: float = 0.7
    # A VMAF sensitivity map (`sensitivity`: the student; `vmaf_teacher`: the measured teacher) whose offsets are
    # added to the mask's: dQP = -sensitivity_gain * log2 w, w the block's VMAF weight (the map is 2^((log2 w - 3)
    # / 6)), centred per frame.  The mask says which regions get bits; the map moves bits, inside and outside
    # them, to the blocks VMAF notices.  "" = off.  On by default: the teacher's own map at gain 1.5 (docs/splits.md,
    # 2026-12-01; the student, `sensitivity`, was the default before: docs/splits.md, 21:45 of 2026-11-30).
    sensitivity: str = "vmaf_teacher"
    sensitivity_gain: float = 1.5
    # The segment guard (preanalysis.verify): the encoder codes each closed segment (verify_resolution: its
    # analysis luma, or native samples of the source) with and without its offsets, and a map whose estimated
    # BD-rate (the worse of VMAF and VMAF-NEG over two CRFs) is not below -verify_margin (%) is switched off for
    # the segment.  Costs four encodes of the segment (the two
    # without the map are the VMAF teacher's when it ran) and VMAF + VMAF-NEG of every 4th frame.  On by default
    # at margin 0, scored by libvmaf (docs/splits.md 00:21: 1.37x the default's analysis time; it dropped the
    # student's losing maps on the fit clips); on in the vmaf-teacher preset, scored by vmaf-torch.  A margin
    # fitted as its worst optimism on fit clips (17.9) dropped every map (docs/models.md).
    verify: bool = True
    verify_margin: float = 0.0
    # The encoder the guard codes with, the one the map is for: x264 | x265 | auto (the encoder of the encode the
    # maps are made for, by for_encoder(); x264 where the maps are written without one: analyze, other encoders).
    verify_encoder: str = "auto"
    # How many frames of a segment the guard codes: the middle verify_frames of it (its cost per segment is then
    # bounded, whatever the segment's length), 0 = all of them.
    verify_frames: int = 0
    # What scores the guard's encodes: libvmaf (imageio-ffmpeg's ffmpeg, as eval; about 14x faster on the CPU) or
    # vmaf-torch (on analysis.device: CUDA when present; the vmaf-teacher preset's figures were measured with it).
    verify_scorer: str = "libvmaf"
    # What the guard codes: the analysis luma with the offsets averaged onto its blocks (analysis), or the
    # source's own luma with the offsets as the encoder gets them (native: the whole frame up to 640x352 pixels'
    # worth, else a mosaic of four native tiles; preanalysis.verify.NativeSample).  Analysis by default: native
    # read better on the fit clips and worse on 32 blind cuts (docs/splits.md 02:31-03:00), at 1.65x the analysis
    # time at 1080p against 1.33x.  whole: native where the whole frame has at most verify_whole_pixels, else the
    # analysis luma (no mosaic); fewer losers on 45 measured cuts, worse on 21 fresh ones (docs/results.md).
    verify_resolution: str = "analysis"
    # The native guard codes the whole frame up to this many pixels, else a mosaic of four tiles (verify_tile).
    verify_whole_pixels: int = 640 * 352
    # A native tile's size in 16-px blocks (columns, rows) where the frame is larger than verify_whole_pixels: the
    # guard codes four of them side by side, so its cost at 1080p and above is bounded by their size.
    verify_tile: list[int] = field(default_factory=lambda: [20, 11])
    # Further student gains (allocate.sensitivity_gain's alternatives) the guard codes the segment's map with; it
    # keeps the candidate, of these and sensitivity_gain, whose estimate is lowest (if below -verify_margin).  Each
    # adds two encodes and their scoring to a segment.  [] = only sensitivity_gain.
    verify_gains: list[float] = field(default_factory=list)
    # The encoder settings the guard codes with: anchor (own AQ off, mbtree on, the encoder's defaults otherwise)
    # or encode (the anchor plus this config's encode.x264_params / x265_params, the settings the maps are used
    # with; the VMAF teacher's remembered encodes are the anchor's, so its guard then codes its own).  encode by
    # default: the guard codes as the encode does (with analysis.code_source guard).
    verify_params: str = "encode"
    # The guard scores every verify_every-th frame of its encodes (libvmaf's n_subsample; the motion feature still
    # sees every frame): fewer frames score faster, more give a less noisy estimate.
    verify_every: int = 4
    # The two CRFs the guard codes each segment at, with and without the map (its two-point BD-rate): the middle
    # of the 22-37 range maps are measured over, the VMAF teacher's own two points (25/34 and 22/37 measured worse).
    verify_crfs: list[float] = field(default_factory=lambda: [27.0, 32.0])
    # The guard's VMAF ceiling: a segment whose encode without the map at the guard's upper CRF already scores at
    # least this VMAF is coded without the map, whatever the estimate (easy content, where VMAF's curve over rate is
    # flat and the maps that lost on blind cuts were: docs/splits.md 20:22 of 2026-11-30).  0 = no ceiling.  91 by
    # default, scored natively (below): chosen on 94 measured runs, no cut above +1 % on 26 fresh ones (21:07).
    verify_ceiling: float = 91.0
    # Where the guard codes the analysis luma, score the ceiling on the segment's native sample instead (one more
    # encode without the map, at the upper CRF; the sample as verify_resolution native codes it): the analysis luma
    # of a source reads several VMAF lower than the source, and the ceiling was found on the source's scale.
    # Without a ceiling (verify_ceiling 0) nothing is scored.
    verify_ceiling_native: bool = True

    def native_samples(self, width: int, height: int, analysed: tuple[int, int]) -> bool:
        """Whether the guard needs the native samples of a width x height video analysed at `analysed` (width,
        height): it codes them, or scores its ceiling on them (verify_ceiling_native; nothing to score without a
        ceiling, and nothing more where the analysis luma is the source's own: the guard's score is native)."""
        return self.guard_native(width, height) or (self.verify and self.verify_ceiling > 0 and self.verify_ceiling_native
                                                    and analysed != (width, height))

    def guard_native(self, width: int, height: int) -> bool:
        """Whether the guard codes the source's own luma of a width x height video (verify_resolution native, or
        whole on a frame of at most verify_whole_pixels) rather than the analysis luma."""
        return self.verify and (self.verify_resolution == "native" or (
            self.verify_resolution == "whole" and width * height <= self.verify_whole_pixels))

    @property
    def guard_encoder(self) -> str:
        """The encoder the guard codes with: verify_encoder, x264 for an unresolved auto."""
        return "x264" if self.verify_encoder == "auto" else self.verify_encoder

    def __post_init__(self):
        _check(0 <= self.strength <= 8, "allocate.strength must be within [0, 8]")
        _check(0 < self.floor <= 10, "allocate.floor must be within (0, 10]")
        _check(-51 <= self.min_offset <= 0 <= self.max_offset <= 51,
               "allocate offsets need -51 <= min_offset <= 0 <= max_offset <= 51")
        _check(self.segment in ("frame", "scene", "gop"), "allocate.segment must be frame, scene or gop")
        _check(self.segment_frames >= 1, "allocate.segment_frames must be >= 1")
        _check(0 <= self.frame_qp_range <= 51, "allocate.frame_qp_range must be within [0, 51]")
        _check(0 <= self.scene_start_gain <= 8, "allocate.scene_start_gain must be within [0, 8]")
        _check(0 <= self.still_block_levels <= 64, "allocate.still_block_levels must be within [0, 64]")
        _check(0 <= self.temporal_gain <= 8, "allocate.temporal_gain must be within [0, 8]")
        _check(self.temporal_unit in ("frame", "scene"), "allocate.temporal_unit must be frame or scene")
        _check(self.temporal_min_spread >= 0, "allocate.temporal_min_spread must be >= 0")
        _check(isinstance(self.sensitivity, str), "allocate.sensitivity must be a map name, or \"\" for none")
        _check(0 <= self.sensitivity_gain <= 8, "allocate.sensitivity_gain must be within [0, 8]")
        _check(isinstance(self.verify, bool), "allocate.verify must be true or false")
        _check(self.verify_encoder in ("auto", "x264", "x265"),
               "allocate.verify_encoder must be auto, x264 or x265 (the encoder the map is for; other encoders: auto)")
        _check(self.verify_resolution in ("analysis", "native", "whole"),
               "allocate.verify_resolution must be analysis, native or whole")
        _check(self.verify_scorer in ("libvmaf", "vmaf-torch"),
               "allocate.verify_scorer must be libvmaf or vmaf-torch")
        _check(self.verify_frames == 0 or self.verify_frames >= 2, "allocate.verify_frames must be 0 (the whole "
               "segment) or >= 2 (the guard's encodes need two frames)")
        _check(self.verify_margin >= 0, "allocate.verify_margin must be >= 0 (percent of rate a segment's map must "
               "save in the guard's encodes to be kept; 0 = any saving)")
        _check(all(0 <= g <= 8 for g in self.verify_gains), "allocate.verify_gains must be within [0, 8]")
        _check(self.verify_params in ("anchor", "encode"), "allocate.verify_params must be anchor or encode")
        _check(1 <= self.verify_every <= 64, "allocate.verify_every must be within [1, 64] (score every Nth frame)")
        _check(len(self.verify_crfs) == 2 and 0 <= self.verify_crfs[0] < self.verify_crfs[1] <= 51,
               "allocate.verify_crfs must be two CRFs, the lower first, within [0, 51]")
        _check(self.verify_ceiling == 0 or 50 <= self.verify_ceiling <= 100,
               "allocate.verify_ceiling must be 0 (no ceiling) or a VMAF within [50, 100]")
        _check(64 * 64 <= self.verify_whole_pixels <= 4096 * 2304,
               "allocate.verify_whole_pixels must be within [4096, 9437184]")
        _check(len(self.verify_tile) == 2 and all(4 <= n <= 64 for n in self.verify_tile),
               "allocate.verify_tile must be [columns, rows] of 16-px blocks, each within [4, 64]")
        _check(not self.verify_gains or (self.verify and self.sensitivity != ""),
               "allocate.verify_gains are student gains the segment guard tries: they need allocate.verify on and "
               "allocate.sensitivity set (or leave verify_gains empty)")
        _check(not self.verify or self.segment != "frame",
               "allocate.verify checks whole segments: set allocate.segment to scene or gop (--segment), or turn "
               "verify off (--no-allocate-verify)")


def param_string(params: dict[str, str]) -> str:
    """Encoder params as x264/x265 take them on one line (key=value:key=value)."""
    return ":".join(f"{k}={v}" for k, v in params.items())


AQ_OFF = {"aq-mode": "1", "aq-strength": "0.0"}  # x264/x265 without their own AQ, the map still honoured
AQ_OFF_PARAMS = param_string(AQ_OFF)


@dataclass
class EncodeConfig:
    """Encoder-level settings the map is combined with: `tune` picks them per title by measurement."""

    prefilter: str = "auto"  # off | auto (MCTF following the source noise) | mctf[:S] | temporal[:S]
    # Merged over the adapter's.  The map is made for the encoder without its own AQ (aq-strength 0; mbtree /
    # cutree keep AQ on, so the map is honoured): the setting eval measures the presets with, so an encode gets
    # what the figures say.  A user's --param aq-strength=1 puts the map on top of the encoder's own AQ.
    x264_params: dict[str, str] = field(default_factory=lambda: {**AQ_OFF, "psy-rd": "0.20,0"})
    x265_params: dict[str, str] = field(default_factory=lambda: dict(AQ_OFF))

    def __post_init__(self):
        from .prefilters.spec import parse_prefilter

        try:
            self.prefilter = parse_prefilter(self.prefilter)
        except PreanalysisError as exc:
            raise PreanalysisError(f"invalid config: encode.prefilter: {exc}") from None

    def params(self, encoder: str) -> dict[str, str]:
        return dict(self.x264_params if encoder == "x264" else self.x265_params if encoder == "x265" else {})


SALIENCE_VMAF_LIMIT = 3.0  # objective "salience": the full-frame VMAF BD-rate the map may cost, percent


@dataclass
class Config:
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    salience: SalienceConfig = field(default_factory=SalienceConfig)
    allocate: AllocateConfig = field(default_factory=AllocateConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    objective: str = "efficiency"  # efficiency | salience (see eval)

    def __post_init__(self):
        _check(self.objective in ("efficiency", "salience"), "objective must be efficiency or salience")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        """The canonical text of a config: stored in maps files, so equal configs give identical files."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise PreanalysisError(f"invalid config: {message}")


RENAMED = {"plain_scene_start": "now scene_start_gain: 0 for true, 1 for false"}


def from_dict(cls, data, where: str = "config"):
    """Build dataclass `cls` from plain data, rejecting unknown keys and wrong types with the key's path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PreanalysisError(f"invalid config: {where} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        renamed = f" ({RENAMED[unknown[0]]})" if unknown[0] in RENAMED else ""
        raise PreanalysisError(f"invalid config: unknown key {where}.{unknown[0]}{renamed} (known: "
                               f"{', '.join(sorted(names))})")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise PreanalysisError(f"invalid config: {where}: {exc}") from None


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, where)
    if origin is list:
        if not isinstance(value, list):
            raise PreanalysisError(f"invalid config: {where} must be a list")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise PreanalysisError(f"invalid config: {where} must be a mapping")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # YAML reads `threads: 1` as a number; encoder options are text
    if hint is bool and isinstance(value, bool):
        return value
    raise PreanalysisError(f"invalid config: {where} must be {getattr(hint, '__name__', hint)}, got {value!r}")


PRESETS = Path(__file__).parent / "configs"  # shipped configs, tuned by measurement: default, salience


def load_config(path: str | Path | None = None) -> Config:
    """The default config, a YAML file (keys not given keep their defaults) or a shipped preset by name."""
    if path is None:
        return Config()
    preset = PRESETS / f"{path}.yaml"
    if not Path(path).exists() and preset.is_file():
        path = preset
    elif not Path(path).exists():
        names = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml")))
        raise PreanalysisError(f"config file {path} does not exist: check the path, or name a preset ({names})")
    return from_dict(Config, read_yaml(path, "config file"))


def read_yaml(path: str | Path, what: str):
    """Plain data from a YAML file; a missing file or a syntax error is a one-line error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise PreanalysisError(f"{what} {path} does not exist: check the path")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise PreanalysisError(f"{what} {path} is not valid YAML{at}: fix the syntax") from None


def save_config(config: Config, path: str | Path) -> None:
    from .io import atomic_write_text

    atomic_write_text(Path(path), config.to_yaml())


def scalar_fields(cls=Config, prefix: str = ""):
    """(dotted name, type, default) for every scalar field: the CLI turns each into an option."""
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            yield from scalar_fields(hint, f"{prefix}{f.name}.")
        elif hint in (int, float, str, bool):
            yield f"{prefix}{f.name}", hint, f.default


def check_one_clip_regions(config: Config, inputs, what: str) -> None:
    """Region files (salience.roi_files) are drawn for one clip: refuse to apply them to several, where the
    same boxes would silently steer every other clip's map."""
    clips = {str(Path(i).resolve()) for i in inputs}
    if config.salience.roi_files and len(clips) > 1:
        raise PreanalysisError(f"{what}: region files (--roi-file, salience.roi_files) belong to one clip and "
                               f"{len(clips)} were given: run it once per clip with that clip's regions")


def for_encoder(config: Config, encoder: str) -> Config:
    """The config whose maps are made for `encoder`: an `auto` guard encoder (allocate.verify_encoder) becomes
    x265 for x265; for any other encoder it stays auto, which codes with x264 (so the config, and the maps file
    that embeds it, stay those of `preanalysis analyze`)."""
    if config.allocate.verify_encoder != "auto" or encoder != "x265":
        return config
    return with_overrides(config, {"allocate.verify_encoder": encoder})


def with_overrides(config: Config, overrides: dict[str, object]) -> Config:
    """Copy of config with dotted-name scalar values replaced (validated like YAML values)."""
    data = config.to_dict()
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return from_dict(Config, data)
