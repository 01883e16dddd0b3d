"""A throwaway PostgreSQL cluster of the test session's own, for the tests that restart a server
or terminate its backends.

The PostgreSQL server on this machine is shared: other programs keep connections and databases
on it. A test that restarts it, or terminates backends, would break them (and another
program's restart of it would break ours). So those tests run against a cluster this module
creates with ``initdb`` in a temporary directory, on a port and socket directory of its own, and
removes at the end of the session; every other PostgreSQL test uses a database of its own on
the shared server and touches nothing else there.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where Debian installs each PostgreSQL version's server programs.
BINARIES = Path("/usr/lib/postgresql")


class PrivateClusterUnavailable(RuntimeError):
    """No PostgreSQL server programs here (initdb, pg_ctl), or the cluster did not start."""


@dataclass
class PrivateCluster:
    """A running cluster: ``url`` reaches its ``postgres`` database as the superuser."""

    bindir: Path
    base: Path
    port: int
    run_as: tuple[str, ...]

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off"
        )
        result = subprocess.run(
            [
                *self.run_as,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.base / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            log = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise PrivateClusterUnavailable(
                f"pg_ctl {' '.join(args)} failed: {result.stderr.strip()} {log}"
            )

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """A real restart of this cluster (and of nothing else)."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")


def newest_bindir() -> Path | None:
    if not BINARIES.is_dir():
        return None
    versions = sorted(
        (p for p in BINARIES.iterdir() if (p / "bin" / "initdb").exists()),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.name.split(".")],
    )
    return versions[-1] / "bin" if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def create_cluster() -> PrivateCluster:
    """initdb and start a cluster in a new temporary directory. As root (CI), the server runs
    as the ``postgres`` system user, since PostgreSQL refuses to run as root."""
    bindir = newest_bindir()
    if bindir is None:
        raise PrivateClusterUnavailable(f"no PostgreSQL server programs under {BINARIES}")
    base = Path(tempfile.mkdtemp(prefix="pulse-pg-"))
    run_as: tuple[str, ...] = ()
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            shutil.rmtree(base, ignore_errors=True)
            raise PrivateClusterUnavailable("running as root and no postgres user") from exc
        os.chown(base, owner.pw_uid, owner.pw_gid)
        run_as = ("runuser", "-u", "postgres", "--")
    result = subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(base / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise PrivateClusterUnavailable(f"initdb failed: {result.stderr.strip()}")
    cluster = PrivateCluster(bindir, base, _free_port(), run_as)
    try:
        cluster.start()
    except PrivateClusterUnavailable:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return cluster


def remove_cluster(cluster: PrivateCluster) -> None:
    try:
        cluster.stop()
    finally:
        shutil.rmtree(cluster.base, ignore_errors=True)
