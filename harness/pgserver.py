"""A throwaway PostgreSQL server: a fresh cluster in a temp dir, on a given address.

For the tests and `dashcam bench scale`, never for real data (fsync is off). Debian's
PostgreSQL binaries (`infra/test.sh` installs them); `initdb` refuses to run as root, so as
root the cluster belongs to the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@dataclass
class PgServer:
    root: Path
    host: str
    port: int
    user: str = "dashcam"
    password: str = "pg-Secret-7"
    proc: subprocess.Popen | None = None
    netns: str | None = None  # run inside this network namespace

    @classmethod
    def temporary(cls, host: str = "127.0.0.1", port: int = 0, **kw: object) -> PgServer:
        """A server in a new dir under /tmp: pytest's own tmp dirs are root-only, and the
        cluster belongs to `postgres`."""
        if not port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        root = Path(tempfile.mkdtemp(prefix="dashcam-pg-"))
        os.chmod(root, 0o755)
        return cls(root, host, port, **kw)  # type: ignore[arg-type]

    def url(self, driver: str, db: str, host: str | None = None) -> str:
        return f"postgresql+{driver}://{self.user}:{self.password}@{host or self.host}:{self.port}/{db}"

    def _ns(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *args] if self.netns else args

    def start(self) -> PgServer:
        initdb, postgres = pg_bin("initdb"), pg_bin("postgres")
        if not initdb or not postgres:
            raise PostgresMissing(
                "PostgreSQL server binaries are absent (initdb, postgres): install them, "
                "e.g. `apt-get install postgresql` (infra/test.sh does)"
            )
        data = self.root / "pgdata"
        self.root.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        run = subprocess.run(
            _as_postgres(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    self.user,
                    "--pwfile",
                    str(pwfile),
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"initdb failed in {data}: {run.stderr.strip()}")
        # Password logins from the hosts on the server's own subnet (initdb allows loopback only).
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write("host all all samenet scram-sha-256\n")
        # Fast and disposable: no fsync; sockets in our own dir (not /var/run/postgresql).
        opts = [
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"port={self.port}",
            "-c",
            f"unix_socket_directories={self.root}",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=64MB",
        ]
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 (owned by the server process)
        self.proc = subprocess.Popen(
            self._ns(_as_postgres([postgres, "-D", str(data), *opts])),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        import psycopg

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited; see {self.root / 'postgres.log'}")
            try:
                with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                    break
            except psycopg.OperationalError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"postgres did not start; see {self.root / 'postgres.log'}")
        return self

    def _dsn(self, db: str) -> str:
        # The unix socket works from any network namespace (a file, not an address).
        return f"host={self.root} port={self.port} dbname={db} user={self.user} password={self.password}"

    def create_db(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave);
            # to the group, since runuser stands between us and postgres.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)
