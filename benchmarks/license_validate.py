"""Licence validation under load, against a bare FastAPI endpoint, on PostgreSQL.

    .venv/bin/python benchmarks/license_validate.py [--duration 10] [--connections 100]

Starts the service with ``coditect server run --workers 2`` on a fresh PostgreSQL schema
(``CODITECT_BENCH_DATABASE_URL``, default the local ``test`` database) holding 1,000
licences with one activated machine each, and a bare FastAPI app (one sync route, also
2 uvicorn workers). ``wrk`` (Debian's package: installed with apt-get when missing and
allowed, else the benchmark skips and says why) then drives, from 127.0.0.1:

- ``POST /api/v1/licenses/validate`` with 100 connections, a random licence per request;
- the bare app's ``GET /`` and the service's own ``GET /healthz``, the same way,
  alternating with validation run by run (``--rounds``, default 3; medians reported);
- paced runs of the bare app and of validation (``--pace-ms``, default 100): the same
  100 connections, each pausing a random time (exponential, mean 100 ms) before each
  request, so about 1,000 requests/s are offered, spread out: latency below saturation,
  which a closed loop of 100 connections cannot show;
- ``POST /api/v1/auth/login`` with a few connections (Argon2 at the configured cost:
  each login hashes, so 100 connections would only measure the queue).

Prints one JSON object: the machine, each run's requests/s and latency percentiles, the
validation throughput as a share of the bare endpoint's, and the targets (p95 < 25 ms,
share ≥ 40%). docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from coditect.cloud.db import Database, normalise_url
from coditect.cloud.migrate import upgrade
from coditect.cloud.models.licence import Machine
from coditect.cloud.models.user import User
from coditect.cloud.services.licences import issue_licence
from coditect.cloud.services.plans import seed_plans
from coditect.cloud.settings import Settings, generate_ed25519_pem
from coditect.signing import load_public_key, verify
from run import log, machine

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
LICENCES = 1000
PASSWORD = "benchmark password 1234"
TARGET_P95_MS = 25.0
TARGET_SHARE = 0.40
BARE_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def root() -> dict[str, str]:
    return {"status": "ok"}
"""
REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
    .. '"timeouts": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def find_wrk() -> str | None:
    """``wrk`` on PATH, or installed from Debian when we are root with apt-get."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    log("wrk is missing: installing Debian's package ...")
    install = ["apt-get", "install", "-y", "wrk"]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, check=False)
        subprocess.run(install, capture_output=True, check=False)
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        url = make_url(normalise_url(base_url)).update_query_dict(
            {"options": f"-csearch_path={name}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def prepare(url: str) -> list[tuple[str, str]]:
    """Migrate, seed the plans, and create the licences: ``(key, fingerprint)`` pairs."""
    database = Database(url)
    now = datetime.now(UTC)
    pairs = []
    try:
        upgrade(database.engine)
        with database.transaction() as session:
            seed_plans(session)
            owner = User(email="owner@example.com", password_hash="-")
            session.add(owner)
            session.flush()
            plans = ["free", "starter", "pro", "enterprise"]
            for n in range(LICENCES):
                issued = issue_licence(session, user_id=owner.id, plan_code=plans[n % 4], now=now)
                fingerprint = f"machine-{n:05d}"
                session.add(Machine(licence_id=issued.licence.id, fingerprint=fingerprint))
                pairs.append((issued.key, fingerprint))
    finally:
        database.dispose()
    return pairs


def service_env(url: str, home: Path, pool_size: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODITECT_")}
    if pool_size is not None:
        env["CODITECT_VALIDATION_POOL_SIZE"] = str(pool_size)
    env.update(
        CODITECT_ENVIRONMENT="development",
        CODITECT_DATABASE_URL=url,
        CODITECT_SECRET_KEY=uuid.uuid4().hex * 2,
        CODITECT_LICENCE_SIGNING_KEY=generate_ed25519_pem(),
        CODITECT_RATE_LIMIT_LOGIN_IP="1000000/minute",
        CODITECT_RATE_LIMIT_LOGIN_ACCOUNT="1000000/minute",
        CODITECT_RATE_LIMIT_REGISTER_IP="1000000/minute",
        CODITECT_HOME=str(home),
    )
    return env


@contextlib.contextmanager
def serve(command: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    """Run a server in its own process group until the block ends."""
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(probe, timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"{command[0]} did not start:\n{stderr[-2000:]}")
            time.sleep(0.2)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wrk(tool: str, url: str, script: str, *, connections: int, seconds: int) -> dict[str, Any]:
    """One wrk run (after a short warm-up); figures in ms and requests/s."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + REPORT_LUA)
    try:
        base = [tool, "-t2", f"-c{connections}", "--timeout", "10s", "-s", handle.name, url]
        subprocess.run([*base[:1], "-d2s", *base[1:]], capture_output=True, check=True)
        output = subprocess.run(
            [*base[:1], f"-d{seconds}s", *base[1:]], capture_output=True, text=True, check=True
        ).stdout
    finally:
        Path(handle.name).unlink()
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    raw = json.loads(line[4:])
    seconds_run = raw["duration_us"] / 1e6
    row = {
        "connections": connections,
        "seconds": round(seconds_run, 2),
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
        "timeouts": raw["timeouts"],
    }
    for name in ("mean", "p50", "p90", "p95", "p99", "max"):
        row[f"{name}_ms"] = round(raw[f"{name}_us"] / 1000, 2)
    log(f"  {url}: {row['requests_per_s']} req/s, p95 {row['p95_ms']} ms, non-2xx {row['non_2xx']}")
    return row


def lua_paced(mean_ms: float) -> str:
    """A wrk script fragment: each connection pauses a random time (exponential, mean
    ``mean_ms``) before each request, so 100 connections offer about
    ``100 / mean_ms`` requests per ms, spread out rather than in bursts."""
    return (
        "local threads = 0\n"
        "setup = function(thread)\n"
        "  threads = threads + 1\n"
        '  thread:set("thread_id", threads)\n'
        "end\n"
        "init = function(args)\n"
        "  math.randomseed(thread_id * 7919 + os.time())\n"
        "end\n"
        "delay = function()\n"
        f"  return -math.log(1 - math.random()) * {mean_ms}\n"
        "end\n"
    )


def lua_post(path: str, bodies: list[dict[str, Any]]) -> str:
    """A wrk script POSTing one of ``bodies`` at random per request."""
    lines = ",\n".join(f"  {json.dumps(json.dumps(body))}" for body in bodies)
    return (
        f"local bodies = {{\n{lines}\n}}\n"
        'local headers = {["Content-Type"] = "application/json"}\n'
        "request = function()\n"
        f'  return wrk.format("POST", "{path}", headers, bodies[math.random(#bodies)])\n'
        "end\n"
    )


def check_answers(base: str, pairs: list[tuple[str, str]]) -> None:
    """The service answers VALID, signed with the key it publishes, before it is loaded."""
    published = httpx.get(f"{base}/api/v1/licenses/public-key").json()
    keys = {published["key_id"]: load_public_key(published["public_key"])}
    for key, fingerprint in random.sample(pairs, 5):
        body = {"key": key, "fingerprint": fingerprint, "nonce": "check"}
        answer = httpx.post(f"{base}/api/v1/licenses/validate", json=body).json()
        if verify(answer, keys)["code"] != "VALID":
            raise RuntimeError(f"the service did not validate a good licence: {answer}")


def service_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "coditect",
        "server",
        "run",
        "--workers",
        "2",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def bare_command(port: int, folder: Path) -> list[str]:
    (folder / "bare_app.py").write_text(BARE_APP)
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    return [
        uvicorn,
        "bare_app:app",
        "--app-dir",
        str(folder),
        "--workers",
        "2",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def measure_rounds(
    tool: str, bare: str, base: str, bodies: list[dict[str, Any]], args: Any
) -> dict[str, list[dict[str, Any]]]:
    """Bare, validate and healthz in turn, ``args.rounds`` times: each comparison is made
    between neighbouring runs, so that other work on the machine weighs on both sides."""
    script = lua_post("/api/v1/licenses/validate", bodies)
    names = ["bare_fastapi", "validate", "healthz"]
    if args.pace_ms:
        names += ["bare_paced", "validate_paced"]
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for number in range(1, args.rounds + 1):
        log(f"round {number} of {args.rounds}")
        load = {"connections": args.connections, "seconds": args.duration}
        rounds["bare_fastapi"].append(wrk(tool, f"{bare}/", "", **load))
        rounds["validate"].append(wrk(tool, f"{base}/api/v1/licenses/validate", script, **load))
        rounds["healthz"].append(wrk(tool, f"{base}/healthz", "", **load))
        if args.pace_ms:  # the same connections, below saturation
            paced = lua_paced(args.pace_ms)
            rounds["bare_paced"].append(wrk(tool, f"{bare}/", paced, **load))
            validate_url = f"{base}/api/v1/licenses/validate"
            rounds["validate_paced"].append(wrk(tool, validate_url, script + paced, **load))
    return rounds


def measure_login(tool: str, base: str, args: Any) -> dict[str, Any]:
    account = {"email": "login@example.com", "password": PASSWORD}
    httpx.post(f"{base}/api/v1/auth/register", json=account).raise_for_status()
    log("login ...")
    return wrk(
        tool,
        f"{base}/api/v1/auth/login",
        lua_post("/api/v1/auth/login", [account]),
        connections=args.login_connections,
        seconds=args.duration,
    )


def summarise(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median figures per endpoint, and the median of the per-round throughput shares."""
    summary: dict[str, Any] = {}
    for name, runs in rounds.items():
        summary[name] = {
            key: statistics.median(run[key] for run in runs)
            for key in ("requests_per_s", "p50_ms", "p95_ms", "p99_ms")
        }
        summary[name]["non_2xx"] = sum(run["non_2xx"] for run in runs)
    for other in ("bare_fastapi", "healthz"):
        shares = [
            v["requests_per_s"] / o["requests_per_s"]
            for v, o in zip(rounds["validate"], rounds[other], strict=True)
        ]
        summary[f"validate_share_of_{other.split('_')[0]}"] = round(statistics.median(shares), 3)
    return summary


def run_all(tool: str, url: str, pairs: list[tuple[str, str]], args: Any) -> dict[str, Any]:
    port, bare_port = free_port(), free_port()
    base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    folder = Path(tempfile.mkdtemp(prefix="coditect-bench-"))  # bare app, service's home
    bodies = [{"key": k, "fingerprint": f, "nonce": "bench"} for k, f in pairs]
    try:
        with (
            serve(bare_command(bare_port, folder), dict(os.environ), f"{bare}/"),
            serve(
                service_command(port), service_env(url, folder, args.pool_size), f"{base}/healthz"
            ),
        ):
            check_answers(base, pairs)
            rounds = measure_rounds(tool, bare, base, bodies, args)
            login = measure_login(tool, base, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {**summarise(rounds), "login": login, "rounds": rounds}


def skip(reason: str) -> int:
    """Say why the benchmark cannot run, as its JSON output."""
    print(json.dumps({"skipped": reason}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--login-connections", type=int, default=4)
    parser.add_argument(
        "--pool-size", type=int, help="validation's connections per worker (the service's default)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="bare/validate/healthz rounds")
    parser.add_argument(
        "--pace-ms",
        type=float,
        default=100.0,
        help="paced runs too: each connection pauses a random time of this mean before each "
        "request (100 connections, 100 ms: about 1,000 requests/s); 0: none",
    )
    args = parser.parse_args()
    tool = find_wrk()
    if tool is None:
        return skip("wrk is not installed and cannot be installed here (apt-get install wrk)")
    base_url = os.environ.get("CODITECT_BENCH_DATABASE_URL", DEFAULT_URL)
    probe = Database(base_url)
    try:
        probe.ping()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return skip(f"PostgreSQL is not reachable at CODITECT_BENCH_DATABASE_URL ({reason})")
    finally:
        probe.dispose()
    report: dict[str, Any] = {"machine": machine(), "tool": "wrk -t2", "licences": LICENCES}
    report["validation_pool_size"] = (
        args.pool_size or Settings.model_fields["validation_pool_size"].default
    )
    report["argon2"] = {
        name: Settings.model_fields[f"argon2_{name}"].default
        for name in ("memory_kib", "time_cost", "parallelism")
    }
    with postgres_schema(base_url) as url:
        log(f"preparing {LICENCES} licences ...")
        report.update(run_all(tool, url, prepare(url), args))
    share = report["validate_share_of_bare"]
    report["targets"] = {"validate_p95_ms": TARGET_P95_MS, "share_of_bare": TARGET_SHARE}
    report["ok"] = report["validate"]["p95_ms"] < TARGET_P95_MS and share >= TARGET_SHARE
    report["machine"]["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
