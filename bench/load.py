"""API read load: game list and game detail under gunicorn, measured with wrk.

Target (issue "Volley service"): the reads hold 100 requests/s on this machine with
p99 < 200 ms. This script builds everything it needs and removes it again:

- a PostgreSQL database `volley_bench` (dropped and recreated), migrated with
  `volley manage migrate`;
- a user with an API token and `--games` finished games of `--rallies` rallies each,
  as rows (status done, store keys set), so every detail answer presigns
  2 URLs per rally plus the digest and best reel, as in production;
- SeaweedFS (tests/services.py) as the S3 endpoint: presigning is local, no S3 request
  is made while measuring, but the URLs are made exactly as in production;
- gunicorn `front.wsgi` (2 × cores workers, gthread, 4 threads), Redis db 14;
- wrk (Debian; wrk2 is not packaged) with a Lua script that sends the token, spreads
  detail requests over all games and paces requests to `--rate` per second (a per-thread
  schedule; latency is measured from when each request is sent, so a stalled server shows
  as a missed rate rather than as latency: the verdict checks both).

Then, unless --no-max, a short unpaced run at `--connections` shows each endpoint's
capacity. Usage:

    .venv/bin/python bench/load.py [--seconds 20] [--rate 100] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import services  # noqa: E402

VENV = ROOT / ".venv" / "bin"
PG = "postgres://postgres@127.0.0.1:5432"
DATABASE = "volley_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
TARGET_RATE, TARGET_P99_MS = 100.0, 200.0

#: wrk's script: token header, detail paths spread over the games, a per-thread pace
#: (LuaJIT's FFI reads the monotonic clock), and a JSON summary at the end.
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } volley_timespec;
int clock_gettime(int clk_id, volley_timespec *tp);
]]
local ts = ffi.new("volley_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local TOKEN = "@TOKEN@"
local PATHS = {@PATHS@}
local THREAD_RATE = @THREAD_RATE@  -- requests per second for this thread; 0 = unpaced
local counter = 1
local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = (offset or 0) * 7 + 1
  interval = THREAD_RATE > 0 and 1000 / THREAD_RATE or 0
  next_at = nil
  wrk.headers["Authorization"] = "Token " .. TOKEN
  wrk.headers["Accept"] = "application/json"
end

function request()
  local path = PATHS[(counter % #PATHS) + 1]
  counter = counter + 1
  return wrk.format("GET", path)
end

function delay()
  if interval == 0 then return 0 end
  local now = now_ms()
  if next_at == nil or next_at < now - 1000 then next_at = now end  -- never burst to catch up
  next_at = next_at + interval
  local wait = next_at - interval - now
  return wait > 0 and wait or 0
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'VOLLEY-RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each paced run")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="requests per second to hold")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (more keep the pace near open-loop)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--games", type=int, default=50)
    parser.add_argument("--rallies", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers")
    parser.add_argument("--no-max", action="store_true", help="skip the unpaced capacity runs")
    parser.add_argument("--max-seconds", type=float, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the database (for profiling)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    services.ensure_postgres()
    services.ensure_redis()

    scratch = Path(tempfile.mkdtemp(prefix="volley-load-"))
    s3 = gunicorn = None
    try:
        s3 = services.start_seaweedfs(scratch / "s3")
        env = _env(s3, scratch)
        _create_database()
        _run([str(VENV / "volley"), "manage", "migrate", "--verbosity", "0"], env)
        token, game_ids = _seed(env, args.games, args.rallies)
        port = _free_port()
        gunicorn = _start_gunicorn(env, port, args.workers, scratch / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        endpoints = {
            "game list  GET /api/games/": ["/api/games/"],
            "game detail GET /api/games/<id>/": [f"/api/games/{g}/" for g in game_ids],
        }
        _check_answers(base, token, endpoints, args.rallies)
        print(f"gunicorn: {args.workers} workers × 4 threads (gthread) on {os.cpu_count()} cores; "
              f"{args.games} games × {args.rallies} rallies; wrk {args.threads} threads, {args.connections} connections")
        for paths in endpoints.values():  # warm every worker (imports, boto client, connections)
            _wrk(base, token, paths, 3, args.connections, args.threads, 0, scratch)
        verdicts = []
        print(f"\n-- paced at {args.rate:.0f} requests/s for {args.seconds:.0f} s")
        for name, paths in endpoints.items():
            result = _wrk(base, token, paths, args.seconds, args.connections, args.threads, args.rate, scratch)
            verdicts.append(_report(name, result, args.rate))
        if not args.no_max:
            print(f"\n-- unpaced (capacity) for {args.max_seconds:.0f} s at {args.connections} connections")
            for name, paths in endpoints.items():
                result = _wrk(base, token, paths, args.max_seconds, args.connections, args.threads, 0, scratch)
                _report(name, result, None)
        return 0 if all(verdicts) else 1
    finally:
        if gunicorn is not None:
            _stop(gunicorn)
        if s3 is not None:
            s3.stop()
        if not args.keep:
            _drop_database()
        shutil.rmtree(scratch, ignore_errors=True)


def _env(s3, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLLEY_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(s3.env())
    env.update({
        "DJANGO_SETTINGS_MODULE": "front.settings",
        "VOLLEY_DATABASE_URL": f"{PG}/{DATABASE}",
        "VOLLEY_REDIS_URL": REDIS_URL,
        "VOLLEY_SECRET_KEY": "volley-bench-secret",
        "VOLLEY_DATA_DIR": str(scratch / "data"),
        "VOLLEY_WORK_DIR": str(scratch / "work"),
        "VOLLEY_LOG_LEVEL": "WARNING",
    })
    return env


def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                   check=True, capture_output=True, text=True)


def _create_database() -> None:
    _drop_database()
    _psql(f"CREATE DATABASE {DATABASE}")


def _drop_database() -> None:
    _psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


SEED = r"""
import json, random, sys, uuid
from datetime import timedelta
import django
django.setup()
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from front.models import Game, Rally

games_wanted, rallies_wanted = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(7)
user = get_user_model().objects.create_user("bench", password="bench-pass-1")
token = Token.objects.create(user=user)
now = timezone.now()
games, rallies = [], []
for n in range(games_wanted):
    gid = uuid.uuid4()
    prefix = f"games/{gid}/"
    duration = rallies_wanted * 40.0 + 60
    games.append(Game(
        id=gid, owner=user, name=f"Game {n + 1:03d}", status=Game.Status.DONE, stage="done", progress=1.0,
        attempt=1, node="bench-node", source_key=prefix + "source.mp4", source_size=2_500_000_000,
        video={"duration": duration, "fps": 50.0, "width": 1920, "height": 1080},
        digest_key=prefix + "digest.mp4", best_key=prefix + "best.mp4",
        created_at=now - timedelta(hours=n), queued_at=now - timedelta(hours=n),
        started_at=now - timedelta(hours=n), finished_at=now - timedelta(hours=n) + timedelta(minutes=4)))
    for i in range(1, rallies_wanted + 1):
        start = 30.0 + 40.0 * (i - 1) + rng.uniform(0, 5)
        end = start + rng.uniform(4, 25)
        rallies.append(Rally(
            game_id=gid, index=i, start=start, end=end, score=rng.uniform(0, 1),
            stats={"duration": end - start, "flights": rng.randint(3, 12), "net_crossings": rng.randint(1, 6),
                   "peak_speed": rng.uniform(300, 1500), "seen": rng.uniform(0.5, 0.95)},
            clip_key=f"{prefix}clips/rally-{i:03d}.mp4", poster_key=f"{prefix}posters/rally-{i:03d}.jpg"))
Game.objects.bulk_create(games)
Rally.objects.bulk_create(rallies, batch_size=1000)
print(json.dumps({"token": token.key, "games": [str(g.id) for g in games]}))
"""


def _seed(env: dict[str, str], games: int, rallies: int) -> tuple[str, list[str]]:
    out = _run([str(VENV / "python"), "-c", SEED, str(games), str(rallies)], env)
    data = json.loads(out.strip().splitlines()[-1])
    return data["token"], data["games"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_gunicorn(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    command = [str(VENV / "gunicorn"), "front.wsgi", "-w", str(workers), "-k", "gthread", "--threads", "4",
               "-b", f"127.0.0.1:{port}",
               "--error-logfile", str(log), "--graceful-timeout", "5"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"gunicorn did not start; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the master and its workers
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def _check_answers(base: str, token: str, endpoints: dict[str, list[str]], rallies: int) -> None:
    """One request each before measuring: the answers are what a client gets (presigned URLs)."""
    for name, paths in endpoints.items():
        request = urllib.request.Request(base + random.choice(paths), headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        if "rallies" in body:
            assert len(body["rallies"]) == rallies, body
            assert "X-Amz-Signature=" in body["rallies"][0]["clip_url"], body["rallies"][0]
        else:
            assert body["count"] >= 1 and body["results"][0]["status"] == "done", body


def _wrk(base: str, token: str, paths: list[str], seconds: float, connections: int, threads: int,
         rate: float, scratch: Path) -> dict:
    script = scratch / "load.lua"
    script.write_text(LUA.replace("@TOKEN@", token)
                      .replace("@PATHS@", ", ".join(json.dumps(p) for p in paths))
                      .replace("@THREAD_RATE@", repr(rate / threads if rate else 0)))
    done = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "5s",
         "-s", str(script), base + paths[0]], capture_output=True, text=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("VOLLEY-RESULT ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return json.loads(line.split(" ", 1)[1])


def _report(name: str, r: dict, rate: float | None) -> bool:
    seconds = r["duration_us"] / 1e6
    throughput = r["requests"] / seconds
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    p99 = r["p99_us"] / 1000
    print(f"{name}: {throughput:.1f} requests/s ({r['requests']} in {seconds:.1f} s), "
          f"latency p50 {r['p50_us'] / 1000:.1f} ms, p90 {r['p90_us'] / 1000:.1f} ms, p99 {p99:.1f} ms, "
          f"max {r['max_us'] / 1000:.1f} ms; errors {errors} (status {r['status']}, timeout {r['timeout']}, "
          f"connect {r['connect']}, read {r['read']}); {r['bytes'] / max(r['requests'], 1) / 1024:.1f} KiB/answer")
    if rate is None:
        return True
    # wrk's pace may fall a little short of the asked rate even on an idle server (the
    # first interval of each connection); 97 % counts as held.
    held = throughput >= 0.97 * rate and throughput >= 0.97 * TARGET_RATE
    ok = held and p99 < TARGET_P99_MS and errors == 0
    print(f"  verdict: {'PASS' if ok else 'MISS'} (target ≥ {TARGET_RATE:.0f} requests/s with p99 < "
          f"{TARGET_P99_MS:.0f} ms and no errors: {throughput:.1f} requests/s, p99 {p99:.1f} ms, {errors} errors)")
    return ok


if __name__ == "__main__":
    sys.exit(main())
