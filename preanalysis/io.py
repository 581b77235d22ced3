"""Atomic output files: write to a temporary name beside the target, then rename (never a half-written file)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import PreanalysisError


def check_output_path(output: str | Path, *inputs: str | Path) -> Path:
    """Refuse an output that would overwrite an input or cannot be written, before any work is done."""
    out = Path(output)
    for inp in inputs:
        if inp is not None and Path(inp).exists() and out.exists() and out.resolve() == Path(inp).resolve():
            raise PreanalysisError(f"output {out} is the input file: choose another output path")
        if inp is not None and out.resolve() == Path(inp).resolve():
            raise PreanalysisError(f"output {out} is the input file: choose another output path")
    parent = out.resolve().parent
    if not parent.is_dir():
        blocking = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise PreanalysisError(f"cannot write {out}: {blocking} is a file, not a folder: give a path in a folder")
        raise PreanalysisError(f"cannot write {out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PreanalysisError(f"cannot write {out}: folder {parent} is not writable")
    if out.is_dir():
        raise PreanalysisError(f"cannot write {out}: it is a folder, give a file name")
    return out


@contextlib.contextmanager
def atomic_output(target: str | Path, suffix: str | None = None):
    """Yield a temporary path beside target; rename it onto target only if the block succeeds."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.resolve().parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the permissions any new file would
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_output(target) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_output(target) as tmp:
        tmp.write_bytes(data)
