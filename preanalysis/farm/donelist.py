"""The done-list: an append-only JSON-lines file, fsynced per record, that lets a killed batch resume.

A record is appended only after the file it describes has been written atomically and synced, so a record
always points at a complete file; a crash can lose at most the record being written (a torn last line,
which is ignored), and then that piece of work is simply done again into the same file name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class DoneList:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def records(self) -> list[dict]:
        """Every complete record in order (a torn last line from a crash is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_bytes().split(b"\n"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True).encode() + b"\n"
        # O_APPEND keeps concurrent writers' lines whole; a leading newline would repair a torn previous line.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size and not self._ends_with_newline():
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"


def fsync_file_and_dir(path: Path) -> None:
    """Make a just-renamed file durable: its data and the directory entry that names it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
