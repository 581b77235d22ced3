"""What every encoder adapter shares: the settings, the result, the adapter interface and its registry.

An adapter knows its FFmpeg codec, how free params become `x264-params`/`x265-params`, which settings would
make the encoder silently ignore a QP map (refused before any work), and how to measure from a tiny encode
that a map was honoured (the self-check).  Adding an encoder is one new module with one subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import av

from preanalysis.errors import PreanalysisError

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


@dataclass(frozen=True)
class EncodeSettings:
    """One encode: encoder name, exactly one of crf / bitrate_kbps, a preset and free encoder params.

    params use the encoders' own spelling ({"aq-mode": "1", "aq-strength": "0"}); values are strings.
    """

    encoder: str = "x264"
    crf: float | None = None
    bitrate_kbps: float | None = None
    preset: str = "medium"
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        adapter = get_adapter(self.encoder)
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
        return "crf" if self.crf is not None else "2-pass"

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
    bitrate_kbps: float  # video payload (packet sizes) over the pts span, as BASELINES.md measures it
    seconds: float  # wall time of the encode, all passes


def normalise(key: str) -> str:
    return key.strip().lower().replace("_", "-")


def is_zero(value: str | None) -> bool:
    try:
        return value is not None and abs(float(value)) < 1e-9
    except ValueError:
        return False


class EncoderAdapter:
    """One encoder reached through PyAV; subclasses fill the class attributes and the map-specific rules."""

    name: ClassVar[str]
    codec: ClassVar[str]  # FFmpeg encoder name
    params_option: ClassVar[str]  # the AVOption that takes "key=value:key=value"
    stream_codec: ClassVar[str]  # what a raw output extension must hold: h264 | hevc
    max_crf: ClassVar[float] = 51
    presets: ClassVar[tuple[str, ...]] = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                                          "slower", "veryslow", "placebo")
    default_params: ClassVar[dict[str, str]] = {}  # added unless the user sets the key
    tree_param: ClassVar[str]  # x264 mbtree / x265 cutree: with aq-strength 0 it decides whether AQ stays on
    presets_without_aq: ClassVar[tuple[str, ...]] = ()  # presets whose default is aq-mode 0 (measured)

    def options(self, settings: EncodeSettings, extra: dict[str, str] | None = None) -> dict[str, str]:
        """AVOptions for the PyAV stream (the bitrate goes on the codec context, not here)."""
        params = dict(self.default_params)
        user = {normalise(k) for k in settings.params}
        params = {k: v for k, v in params.items() if normalise(k) not in user}
        params.update(settings.params)
        params.update(extra or {})
        opts = {"preset": settings.preset}
        if settings.crf is not None:
            opts["crf"] = f"{settings.crf:g}"
        if params:
            opts[self.params_option] = ":".join(f"{k}={v or 1}" for k, v in params.items())
        return opts

    def container_format(self, path: str | Path) -> str:
        suffix = Path(path).suffix.lower()
        fmt = CONTAINERS.get(suffix)
        if fmt is None:
            raise PreanalysisError(
                f"unknown output extension {suffix or '(none)'!r}: use one of {', '.join(CONTAINERS)}"
            )
        if fmt in ("h264", "hevc") and fmt != self.stream_codec:
            raise PreanalysisError(f"{suffix} holds raw {fmt} but {self.name} writes {self.stream_codec}: "
                                   f"use .mp4/.mkv/.mov or the raw {self.stream_codec} extension")
        return fmt

    def pix_fmt(self, source_pix_fmt: str, bit_depth: int) -> str:
        """4:2:0 at the source's depth (8 or 10 bits); a 4:2:0 source format the encoder takes is kept as is."""
        supported = {f.name for f in av.codec.Codec(self.codec, "w").video_formats}
        if source_pix_fmt in supported and source_pix_fmt in ("yuv420p", "yuvj420p", "yuv420p10le"):
            return source_pix_fmt
        return "yuv420p10le" if bit_depth > 8 and "yuv420p10le" in supported else "yuv420p"

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        """Why a map would be silently ignored with these settings (None: it will be honoured)."""
        if settings.param("qp") is not None or settings.param("cqp") is not None:
            return (f"constant QP (qp={settings.param('qp') or settings.param('cqp')}) makes {self.name} ignore the "
                    "QP map: use --crf or --bitrate, or --no-map")
        if is_zero(settings.param("aq-mode")):
            return f"aq-mode=0 makes {self.name} skip the QP map: {self.no_aq_advice()}, or encode with --no-map"
        if settings.preset in self.presets_without_aq and settings.param("aq-mode") is None:
            return (f"preset {settings.preset} turns AQ off in {self.name}, so it would skip the QP map: add "
                    "--param aq-mode=1 (and a non-zero aq-strength), use a slower preset, or encode with --no-map")
        tree = self.tree_param
        tree_off = (settings.param(f"no-{tree}") or "x").lower() in TRUE_WORDS or (
            (settings.param(tree) or "x").lower() in FALSE_WORDS
        )
        if is_zero(settings.param("aq-strength")) and settings.param("keyint") == "1":
            return (f"aq-strength=0 with keyint=1 (intra-only turns {tree} off) makes {self.name} turn AQ off and "
                    "ignore the QP map: use a small non-zero aq-strength (e.g. 0.1), or encode with --no-map")
        if is_zero(settings.param("aq-strength")) and tree_off:
            return (f"aq-strength=0 with {tree} off makes {self.name} turn AQ off and ignore the QP map: "
                    f"{self.no_aq_advice()}, or encode with --no-map")
        return None

    def no_aq_advice(self) -> str:
        return (f"for {self.name} without its own AQ use aq-mode=1 with aq-strength near 0 (e.g. 0) "
                f"and {self.tree_param} on")

    def check_settings(self, settings: EncodeSettings, bit_depth: int) -> None:
        why = self.refusal(settings, bit_depth)
        if why:
            raise PreanalysisError(why)

    # The self-check: a map of -delta on the left half and +delta on the right must show in the output.
    min_map_effect: ClassVar[float]
    map_effect_unit: ClassVar[str]

    def map_effect(self, encoded: Path, sources: list[av.VideoFrame]) -> float:
        """How much worse the right half of the first frame came out than the left half (adapter's own unit)."""
        raise NotImplementedError

    def self_check_advice(self) -> str:
        """What to change when the self-check finds the map ignored."""
        return (f"AQ must stay on (aq-mode >= 1 and, without {self.tree_param} or with keyint=1, a non-zero "
                "aq-strength; ultrafast presets lower both), or encode with --no-map")


ADAPTERS: dict[str, EncoderAdapter] = {}


def register(cls: type[EncoderAdapter]) -> type[EncoderAdapter]:
    ADAPTERS[cls.name] = cls()
    return cls


def get_adapter(name: str) -> EncoderAdapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise PreanalysisError(f"unknown encoder {name!r}: use one of {', '.join(sorted(ADAPTERS))}") from None
