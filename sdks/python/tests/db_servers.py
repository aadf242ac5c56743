"""Throwaway database servers for the driver tests: a PostgreSQL cluster (initdb + pg_ctl) and
a MariaDB server (mariadb-install-db + mariadbd), each in a temp dir on a free loopback port,
removed after the run. Missing binaries skip the tests with the reason, unless
RACEWAY_REQUIRE_PG=1 / RACEWAY_REQUIRE_MYSQL=1 (CI), where missing is a failure."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _unavailable(reason: str, required_by: str) -> None:
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{reason} ({required_by}=1)")
    pytest.skip(reason)


def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
            reverse=True,
        )
        if versions:
            return versions[0] / "bin"
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A running throwaway cluster; yields the superuser's URL."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        _unavailable("PostgreSQL binaries (initdb, pg_ctl) not found", "RACEWAY_REQUIRE_PG")
        raise AssertionError  # unreachable: skip and fail raise
    as_root = os.getuid() == 0
    workdir = Path(tempfile.mkdtemp(prefix="raceway-py-pg-"))
    if as_root:
        shutil.chown(workdir, "postgres", "postgres")

    def run(tool: str, *args: str) -> None:
        argv = [str(bin_dir / tool), *args]
        if as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, cwd=workdir, capture_output=True)

    port = free_port()
    data = str(workdir / "data")
    try:
        run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        run("pg_ctl", "-D", data, "-l", str(workdir / "pg.log"), "-w", "-o", options, "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with suppress(subprocess.CalledProcessError, OSError):
            run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


def _program(*names: str) -> str | None:
    for name in names:
        for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
            if Path(folder, name).exists():
                return str(Path(folder, name))
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def mariadb_server() -> Iterator[tuple[str, int]]:
    """A running throwaway MariaDB (root without a password); yields host and port."""
    server = _program("mariadbd", "mysqld")
    install = _program("mariadb-install-db", "mysql_install_db")
    if server is None or install is None:
        _unavailable(
            "MariaDB binaries (mariadbd, mariadb-install-db) not found", "RACEWAY_REQUIRE_MYSQL"
        )
        raise AssertionError
    workdir = Path(tempfile.mkdtemp(prefix="raceway-py-mariadb-"))
    data = workdir / "data"
    user = ["--user=root"] if os.getuid() == 0 else []
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    child = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={workdir / 'mysqld.sock'}",
            f"--pid-file={workdir / 'mysqld.pid'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
            f"--log-error={workdir / 'error.log'}",
            *user,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("MariaDB did not start") from None
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        child.kill()
        child.wait()
        shutil.rmtree(workdir, ignore_errors=True)
