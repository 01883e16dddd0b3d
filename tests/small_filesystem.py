"""A small filesystem of a test's own, to fill up: a full disk as an operator's bad day brings
it, without touching the machine's own disks."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path


class SmallFilesystem:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._filler = path / "filler"

    def fill(self) -> None:
        """Take every free byte (until the filesystem answers "no space left")."""
        block = b"\0" * 65536
        with open(self._filler, "ab", buffering=0) as out:
            while True:
                try:
                    out.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        for size in (4096, 512, 1):  # and the last crumbs
            with contextlib.suppress(OSError), open(self._filler, "ab", buffering=0) as out:
                while out.write(b"\0" * size):
                    pass

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)


@contextlib.contextmanager
def mounted(where: Path, size: str = "6m") -> Iterator[SmallFilesystem | str]:
    """A tmpfs of ``size`` at ``where``, unmounted afterwards; or, where mounting is not
    allowed, the reason (for a skip)."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        yield "no mount command on this machine"
        return
    if done.returncode != 0:
        yield f"cannot mount a small filesystem here: {done.stderr.strip() or done.returncode}"
        return
    try:
        yield SmallFilesystem(where)
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=False, capture_output=True)
