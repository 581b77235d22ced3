"""Visual reports: the video with its salience heatmap, object ids and QP-offset grid drawn on, plus a contact sheet.

Layouts: "side" puts source | salience heatmap (+ object outlines and ids) | QP grid next to each other;
"blend" draws everything onto the source.  QP offsets are coloured blue (negative: more bits) to red
(positive: fewer bits); each block's number is written where blocks are large enough to read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from .qpmap import QpMap
from .errors import PreanalysisError
from .io import atomic_output, atomic_write_bytes
from .verify import verdict_text

MODES = ("side", "blend")
SHEET_TILE_HEIGHT = 200
SHEET_WIDTH = 1800
GAP = 4


@dataclass
class VisualFrame:
    """What one rendered frame shows; `ids` is an int label image (0 = background) or None."""

    index: int
    rgb: np.ndarray  # uint8 (H, W, 3), full resolution
    salience: np.ndarray  # uint8 (h, w), analysis resolution
    qp: QpMap
    ids: np.ndarray | None = None
    note: str = ""  # written after the frame number: the segment guard's verdict, where it judged the frame


def heatmap(salience: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB heatmap (inferno: dark = low salience, yellow = high) at size (W, H)."""
    up = cv2.resize(salience, size, interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(cv2.applyColorMap(up, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def qp_colours(offsets: np.ndarray, limit: int = 6) -> np.ndarray:
    """RGB per block: blue for negative offsets (more bits), red for positive, white for 0."""
    t = np.clip(offsets.astype(np.float32) / limit, -1, 1)[..., None]
    white, red, blue = np.array([255, 255, 255], np.float32), np.array([220, 40, 40], np.float32), np.array([40, 80, 220], np.float32)
    return np.where(t >= 0, white + t * (red - white), white - t * (blue - white)).astype(np.uint8)


def draw_qp_grid(base: np.ndarray, qp: QpMap, alpha: float = 0.45) -> np.ndarray:
    """Tint each block by its offset, draw the block grid, and label blocks wide enough to hold a number."""
    h, w = base.shape[:2]
    scale_x, scale_y = w / qp.width, h / qp.height
    block = qp.block_size
    tint = cv2.resize(qp_colours(qp.offsets), (qp.offsets.shape[1] * block, qp.offsets.shape[0] * block),
                      interpolation=cv2.INTER_NEAREST)[: qp.height, : qp.width]
    tint = cv2.resize(tint, (w, h), interpolation=cv2.INTER_NEAREST)
    out = cv2.addWeighted(base, 1 - alpha, tint, alpha, 0)
    grid = (90, 90, 90)
    for c in range(1, qp.offsets.shape[1]):
        x = round(c * block * scale_x)
        out[:, x: x + 1] = grid
    for r in range(1, qp.offsets.shape[0]):
        y = round(r * block * scale_y)
        out[y: y + 1, :] = grid
    cell = block * scale_x
    if cell >= 22:
        size = min(cell / 40, 0.6)
        for r, c in np.ndindex(qp.offsets.shape):
            value = int(qp.offsets[r, c])
            if value:
                org = (round((c * block + 2) * scale_x), round((r * block + block * 0.7) * scale_y))
                cv2.putText(out, f"{value:+d}", org, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def draw_ids(base: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Outline each object and write its id at its centroid."""
    out = base.copy()
    h, w = out.shape[:2]
    labels = cv2.resize(ids.astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST)
    for obj in np.unique(labels):
        if obj <= 0:
            continue
        mask = (labels == obj).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        colour = tuple(int(v) for v in cv2.cvtColor(np.uint8([[[(obj * 47) % 180, 255, 255]]]), cv2.COLOR_HSV2RGB)[0, 0])
        cv2.drawContours(out, contours, -1, colour, 2)
        ys, xs = np.nonzero(mask)
        cv2.putText(out, str(int(obj)), (int(xs.mean()), int(ys.mean())), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.4, w / 900), (255, 255, 255), 2, cv2.LINE_AA)
    return out


def render(frame: VisualFrame, mode: str = "side") -> np.ndarray:
    """One output image (RGB uint8, even sides) for a frame."""
    if mode not in MODES:
        raise PreanalysisError(f"unknown layout {mode!r}: use one of {', '.join(MODES)}")
    rgb = frame.rgb
    h, w = rgb.shape[:2]
    heat = heatmap(frame.salience, (w, h))
    if mode == "blend":
        out = cv2.addWeighted(rgb, 0.55, heat, 0.45, 0)
        out = draw_qp_grid(out, frame.qp, alpha=0.25)
        if frame.ids is not None:
            out = draw_ids(out, frame.ids)
    else:
        middle = cv2.addWeighted(rgb, 0.35, heat, 0.65, 0)
        if frame.ids is not None:
            middle = draw_ids(middle, frame.ids)
        out = np.concatenate([rgb, middle, draw_qp_grid(rgb, frame.qp)], axis=1)
    _label(out, f"frame {frame.index}" + (f"  {frame.note}" if frame.note else ""))
    return _even(out)


def _label(image: np.ndarray, text: str) -> None:
    scale = max(0.4, image.shape[0] / 600)
    cv2.putText(image, text, (6, int(22 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (6, int(22 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h - h % 2, : w - w % 2])


def contact_sheet(images: list[np.ndarray], tile_height: int = SHEET_TILE_HEIGHT, width: int = SHEET_WIDTH) -> np.ndarray:
    """Tile rendered frames into one image, all scaled to tile_height, as many per row as fit in `width`."""
    if not images:
        raise PreanalysisError("no frames to put on a contact sheet: check the frame range")
    tiles = [cv2.resize(im, (max(1, round(im.shape[1] * tile_height / im.shape[0])), tile_height),
                        interpolation=cv2.INTER_AREA) for im in images]
    tw = max(t.shape[1] for t in tiles)
    columns = max(1, min(len(tiles), width // (tw + GAP)))
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * (tile_height + GAP) + GAP, columns * (tw + GAP) + GAP, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = GAP + r * (tile_height + GAP), GAP + c * (tw + GAP)
        sheet[y: y + tile_height, x: x + t.shape[1]] = t
    return sheet


def sheet_indices(count: int, wanted: int) -> set[int]:
    """Evenly spaced positions (0..count-1) for the contact sheet."""
    if count <= 0:
        return set()
    n = min(wanted, count)
    return {round(i * (count - 1) / max(n - 1, 1)) for i in range(n)}


def write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise PreanalysisError(f"could not encode {path} as PNG")
    atomic_write_bytes(path, data.tobytes())


def write_report(frames: Iterable[VisualFrame], output: str | Path, count: int, mode: str = "side",
                 sheet_frames: int = 12, fps: float = 25.0) -> tuple[Path, int]:
    """Write the rendered video (OUT.mp4) or one PNG per frame (OUT is a folder), and a contact sheet PNG.

    count is the expected number of frames (for spacing the contact sheet). Returns (sheet path, frames written).
    """
    output = Path(output)
    picks = sheet_indices(count, sheet_frames)
    chosen: list[np.ndarray] = []
    if output.suffix.lower() in (".mp4", ".mkv", ".mov"):
        sheet_path = output.with_name(output.stem + ".contact.png")
        with atomic_output(output) as tmp:
            written = _write_video(_collect(frames, mode, picks, chosen), tmp, fps)
    else:
        output.mkdir(parents=True, exist_ok=True)
        sheet_path = output / "contact_sheet.png"
        written = 0
        for image, index in _collect(frames, mode, picks, chosen):
            write_png(output / f"frame_{index:06d}.png", image)
            written += 1
    if written == 0:
        raise PreanalysisError("no frames were rendered: check the input and the frame range")
    write_png(sheet_path, contact_sheet(chosen))
    return sheet_path, written


def _collect(frames: Iterable[VisualFrame], mode: str, picks: set[int], chosen: list) -> Iterator:
    for position, frame in enumerate(frames):
        image = render(frame, mode)
        if position in picks:
            chosen.append(image)
        yield image, frame.index


def _write_video(images: Iterator, path: Path, fps: float) -> int:
    count = 0
    with av.open(str(path), "w", format="mp4") as container:
        stream = None
        for image, _ in images:
            if stream is None:
                stream = container.add_stream("libx264", rate=round(fps) or 25)
                stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
                stream.options = {"crf": "20", "preset": "veryfast"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode(None):
                container.mux(packet)
    return count


def visual_frames(path: str | Path, config=None, maps=None, start: int = 0, stop: int | None = None) -> Iterator[VisualFrame]:
    """Frames of a video with what to draw: from a maps file (`maps`, a MapsFile) or a fresh analysis (`config`).

    Object ids as frame_ids gives them; a maps file holds none.
    """
    from . import video

    if maps is not None:
        if start >= len(maps):
            raise PreanalysisError(f"the maps file has {len(maps)} frames: --start {start} is past its end")
        allocate = maps.config.get("allocate", {})
        for d in video.decode(path, start, stop):
            if d.index >= len(maps):
                break
            yield VisualFrame(d.index, d.frame.to_ndarray(format="rgb24"), maps.salience[d.index], maps.qp_map(d.index),
                              note=verdict_text(int(maps.guard[d.index]), maps.guard_bd[d.index], allocate))
        return
    from .pipeline import analyze

    # Analyse first, then decode for drawing: two PyAV decoders of one file interleaved in this process
    # deadlocked (seen with PyAV 18.1), and what is kept per frame is small (mask, QP grid, ids).
    allocate = config.to_dict()["allocate"]
    kept = {fa.index: (fa.salience, fa.qp, frame_ids(fa), verdict_text(fa.guard, fa.guard_bd, allocate))
            for fa in analyze(path, config, start=start, stop=stop)}
    yield from decoded_with(path, kept, start, stop)


def decoded_with(path: str | Path, drawn: dict[int, tuple], start: int = 0, stop: int | None = None
                 ) -> Iterator[VisualFrame]:
    """The decoded frames that `drawn` has something for (index -> salience, QP map, ids, note), as VisualFrames."""
    from . import video

    for d in video.decode(path, start, stop):
        if d.index in drawn:
            yield VisualFrame(d.index, d.frame.to_ndarray(format="rgb24"), *drawn.pop(d.index))


def frame_ids(fa) -> np.ndarray | None:
    """A FrameAnalysis's object ids: the learned objects analyser's tracked ids, else the connected components of
    an `objects` map (untracked, per frame), else None."""
    ids = getattr(fa, "object_ids", None)
    if ids is None and "objects" in fa.maps:
        ids = cv2.connectedComponents((fa.maps["objects"] > 0.5).astype(np.uint8))[1].astype(np.int16)
    return ids


def write_contact_sheet(path: str | Path, drawn: Callable[[int], tuple], count: int, out_png: str | Path,
                        sheet_frames: int = 8, mode: str = "side") -> Path:
    """Only the contact sheet of a clip's first `count` frames (what an eval report links to), drawn from an
    analysis already made: drawn(i) gives frame i's (salience, QP map, ids, note), as VisualFrame takes them.
    Only the picked frames are fetched and decoded."""
    picks = sheet_indices(count, sheet_frames)
    chosen = [render(f, mode) for f in decoded_with(path, {i: drawn(i) for i in picks}, 0, max(picks) + 1)]
    out_png = Path(out_png)
    write_png(out_png, contact_sheet(chosen))
    return out_png
