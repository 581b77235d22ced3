"""What every encoder adapter shares: the settings, the result, the adapter interface and its registry.

An adapter knows its presets and CRF range, which settings would make the encoder silently ignore a QP map
(refused before any work), how to open one encoding pass (an `EncodeSession`: frames and their QpMaps in,
a stream out), and how to measure from a tiny encode that a map was honoured (the self-check).  The loop
around the sessions (map checks, 2-pass, atomic output, self-check) is shared: encoder_adapters.encode.
Adding an encoder is one new module with one subclass; x264/x265 through PyAV live in `pyav/`, NVENC in
`nvenc/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap
from preanalysis.video import DecodedFrame, VideoInfo

# Keys the adapter sets itself: a user value would fight the adapter's own choice.
RESERVED_PARAMS = {
    "crf": "set the CRF with crf (--crf), not as a param",
    "bitrate": "set the bitrate with bitrate_kbps (--bitrate), not as a param",
    "preset": "set the preset with preset (--preset), not as a param",
    "pass": "2-pass runs by itself in bitrate mode (--bitrate): drop pass from the params",
    "stats": "2-pass keeps its stats file in a temporary folder: drop stats from the params",
    "input-depth": "the input depth follows the source: drop input-depth from the params",
}
TRUE_WORDS = {"", "1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}

# Output container chosen from the file extension; raw streams only take their own codec.
CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".264": "h264", ".h264": "h264",
              ".265": "hevc", ".hevc": "hevc"}
RAW_STREAMS = ("h264", "hevc")
# Muxer options of every encode we write: without bitexact the Matroska muxer writes random segment and track UIDs,
# so the same encode of the same input made a different .mkv file each run.
REPEATABLE_MUX = {"fflags": "+bitexact"}


@dataclass(frozen=True)
class EncodeSettings:
    """One encode: encoder name, exactly one of crf / bitrate_kbps, a preset and free encoder params.

    params use the encoders' own spelling ({"aq-mode": "1", "aq-strength": "0"}); values are strings.
    """

    encoder: str = "x264"
    crf: float | None = None
    bitrate_kbps: float | None = None
    preset: str | None = None  # None: the adapter's default (medium for x264/x265)
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        adapter = get_adapter(self.encoder)
        if self.preset is None:
            object.__setattr__(self, "preset", adapter.default_preset)
        if (self.crf is None) == (self.bitrate_kbps is None):
            raise PreanalysisError("give exactly one of crf and bitrate_kbps: CRF mode or 2-pass bitrate mode")
        if self.crf is not None and not 0 <= self.crf <= adapter.max_crf:
            raise PreanalysisError(f"crf {self.crf:g} is out of range: {self.encoder} takes 0..{adapter.max_crf}")
        if self.bitrate_kbps is not None and not 1 <= self.bitrate_kbps <= 1_000_000:
            raise PreanalysisError(f"bitrate {self.bitrate_kbps:g} kbps is out of range: give 1..1000000 kbps")
        if self.preset not in adapter.presets:
            raise PreanalysisError(f"unknown {self.encoder} preset {self.preset!r}: use one of {', '.join(adapter.presets)}")
        clean = {}
        for key, value in self.params.items():
            key, value = str(key).strip(), str(value).strip()
            if not key or any(ch in key + value for ch in ":="):
                raise PreanalysisError(
                    f"bad encoder param {key!r}={value!r}: give KEY=VALUE without ':' or '=' inside (use ',' in lists)"
                )
            if normalise(key) in RESERVED_PARAMS:
                raise PreanalysisError(f"param {key} is not allowed: {RESERVED_PARAMS[normalise(key)]}")
            clean[key] = value
        object.__setattr__(self, "params", clean)

    @property
    def mode(self) -> str:
        if self.crf is not None:
            return "crf"
        return "2-pass" if get_adapter(self.encoder).two_pass else "bitrate"

    def param(self, key: str) -> str | None:
        """The value of a param however it was spelled (aq_mode, aq-mode, AQ-Mode)."""
        for k, v in self.params.items():
            if normalise(k) == key:
                return v
        return None


@dataclass(frozen=True)
class EncodeResult:
    path: Path
    frames: int
    size_bytes: int  # the whole output file
    bitrate_kbps: float  # video payload (packet sizes) over the pts span (docs/results.md tables use it)
    seconds: float  # wall time of the encode, all passes


def normalise(key: str) -> str:
    return key.strip().lower().replace("_", "-")


def is_zero(value: str | None) -> bool:
    try:
        return value is not None and abs(float(value)) < 1e-9
    except ValueError:
        return False


@dataclass(frozen=True)
class PassResult:
    """What one pass wrote: frames, payload bytes (packets only, no container) and the pts span in seconds."""

    frames: int
    payload_bytes: int
    seconds: float


class EncodeSession(Protocol):
    """One pass of one encoder into one file: `encode` every frame in order, then `close` (on success) or
    `abort` (on error: release the encoder; the caller discards the file)."""

    def encode(self, frame: DecodedFrame, qp: QpMap | None) -> None: ...
    def close(self) -> int: ...  # flush; payload bytes written in all
    def abort(self) -> None: ...


class EncoderAdapter:
    """One encoder; subclasses fill the class attributes, `open_pass` and the map-specific rules."""

    name: ClassVar[str]
    stream_codec: ClassVar[str]  # what the encoder writes: h264 | hevc | av1
    raw_suffix: ClassVar[str]  # extension of its raw stream (the self-check writes one)
    max_crf: ClassVar[float] = 51
    presets: ClassVar[tuple[str, ...]] = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                                          "slower", "veryslow", "placebo")
    default_preset: ClassVar[str] = "medium"
    two_pass: ClassVar[bool] = True  # bitrate mode runs two passes (else the encoder's own one-pass rate control)
    containers: ClassVar[dict[str, str]] = CONTAINERS  # output extension -> container format it can write

    def open_pass(self, output: Path, info: VideoInfo, settings: EncodeSettings, pass_params: dict[str, str],
                  mapped: bool) -> EncodeSession:
        """A session writing one pass into `output`; pass_params are 2-pass's pass/stats options (else empty);
        mapped: whether frames of this pass come with QP maps (a frame's map may still be None)."""
        raise NotImplementedError

    def suffixes(self) -> list[str]:
        """The output extensions this encoder writes (raw streams only of its own codec)."""
        return [s for s, fmt in self.containers.items() if fmt not in RAW_STREAMS or fmt == self.stream_codec]

    def container_format(self, path: str | Path) -> str:
        suffix = Path(path).suffix.lower()
        fmt = self.containers.get(suffix)
        if fmt is None:
            raise PreanalysisError(f"unknown output extension {suffix or '(none)'!r} for {self.name}: "
                                   f"use one of {', '.join(self.containers)}")
        if fmt in RAW_STREAMS and fmt != self.stream_codec:
            raise PreanalysisError(f"{suffix} holds raw {fmt} but {self.name} writes {self.stream_codec}: "
                                   f"use .mp4/.mkv/.mov or the raw {self.stream_codec} extension")
        return fmt

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        """Why a map would be silently ignored with these settings (None: it will be honoured)."""
        return None

    def lossless_refusal(self, settings: EncodeSettings) -> str | None:
        """A lossless encode quantises nothing, so every encoder with a `lossless` param ignores the map."""
        lossless = settings.param("lossless")
        if lossless is not None and lossless.lower() in TRUE_WORDS:
            return f"lossless=1 makes {self.name} ignore the QP map: drop lossless, or encode with --no-map"
        return None

    def encoded_bit_depth(self, info: VideoInfo) -> int:
        """The depth this encoder codes a source at (8, or 10 for deeper sources)."""
        return 8 if info.bit_depth <= 8 else 10

    def check_settings(self, settings: EncodeSettings, bit_depth: int) -> None:
        why = self.refusal(settings, bit_depth)
        if why:
            raise PreanalysisError(why)

    def param_problem(self, settings: EncodeSettings) -> str | None:
        """Why the encoder would not take one of the params (None: it takes them all, or cannot be asked);
        checked on every encode, with or without a map."""
        return None

    # The self-check: a map of -delta on the left half and +delta on the right must show in the output.  By
    # default it is judged by the PSNR gap between the decoded halves of one picture; adapters that can read the
    # applied QPs back from the stream override map_effect and its unit.
    min_map_effect: ClassVar[float] = 3.0
    map_effect_unit: ClassVar[str] = "dB PSNR"
    map_effect_picture: ClassVar[int] = 0  # display order; an encoder that leaves key frames alone checks 1

    def self_check_advice(self) -> str:
        """What to do when the self-check finds the map ignored."""
        return "check the encoder settings, or encode with --no-map"

    def map_effect(self, encoded: Path, sources: list) -> float:
        """How much worse the right half of the checked picture came out than the left half (map_effect_unit)."""
        from .readback import decoded_half_psnr  # imports av: only when a self-check runs

        return decoded_half_psnr(encoded, sources, self.map_effect_picture)


ADAPTERS: dict[str, EncoderAdapter] = {}


def register(cls: type[EncoderAdapter]) -> type[EncoderAdapter]:
    ADAPTERS[cls.name] = cls()
    return cls


def get_adapter(name: str) -> EncoderAdapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise PreanalysisError(f"unknown encoder {name!r}: use one of {', '.join(sorted(ADAPTERS))}") from None
