#!/usr/bin/env python
"""Delivery throughput, measured against the raw smtplib rate of the same run.

Starts what it needs: Postfix's smtp-sink (extracted from Debian's package into var/bench/,
nothing installed), a separate PostgreSQL database `mailadmin_bench`, Redis database 14 as
the broker, and real `celery worker` processes. Prints each figure beside its target and
beside raw smtplib over one connection (pre-built bytes, the yardstick of issue 4).

    python bench/throughput.py --n 20000 --workers 2
"""

import argparse
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
DB_NAME = "mailadmin_bench"
DB_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
BROKER = "redis://127.0.0.1:6379/14"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp_sink() -> tuple[Path, dict]:
    """smtp-sink from Debian's postfix package, unpacked (not installed) into var/bench."""
    root = BENCH_DIR / "postfix"
    binary = root / "usr/sbin/smtp-sink"
    if not binary.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["apt-get", "download", "postfix"], cwd=BENCH_DIR, check=True, capture_output=True
        )
        deb = next(BENCH_DIR.glob("postfix_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr/lib/postfix")}
    return binary, env


def start_sink(port: int) -> subprocess.Popen:
    binary, env = smtp_sink()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [str(binary), *user, f"127.0.0.1:{port}", "1024"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("smtp-sink did not start")


def sample_message(size: int = 2000) -> bytes:
    body = ("Hello, this is a benchmark message.\r\n" * (size // 38 + 1))[:size]
    return (
        "From: app@bench.example\r\nTo: user@bench.example\r\nSubject: benchmark\r\n"
        f"Message-ID: <bench@bench.example>\r\n\r\n{body}\r\n"
    ).encode()


def raw_smtplib_rate(port: int, n: int) -> float:
    raw = sample_message()
    conn = smtplib.SMTP("127.0.0.1", port)
    conn.ehlo()
    start = time.perf_counter()
    for _ in range(n):
        conn.sendmail("app@bench.example", ["user@bench.example"], raw)
    elapsed = time.perf_counter() - start
    conn.quit()
    return n / elapsed


def setup_django() -> None:
    os.environ.update(
        DATABASE_URL=DB_URL,
        CELERY_BROKER_URL=BROKER,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret-key"),
        FIELD_ENCRYPTION_KEY=os.environ.get(
            "FIELD_ENCRYPTION_KEY", "6Wqhx5C5m4dYGQ9jJkZq8f3Kp0Y2vRrS1tUuVwXxYzA="
        ),
        MAILADMIN_VAR_DIR=str(BENCH_DIR),
        DJANGO_SETTINGS_MODULE="mailadmin.settings",
        LOG_LEVEL="WARNING",
    )
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            c.execute(f"CREATE DATABASE {DB_NAME}")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reset(sink_port: int):
    """An empty outbox, a fresh broker, and one tenant with a server pointing at the sink."""
    import redis
    from django.db import connection

    from outbox.models import Attempt, Message
    from servers.models import ServerConfig
    from servers.services import save_server
    from tenants.models import Tenant
    from tenants.services import create_tenant

    redis.Redis.from_url(BROKER).flushdb()
    # TRUNCATE, not DELETE: every stage starts from the same clean tables, with no dead rows
    # of the stage before for autovacuum to chew on while this one is measured.
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Attempt._meta.db_table}, {Message._meta.db_table}")
    ServerConfig.objects.all().delete()
    tenant = Tenant.objects.filter(slug="bench").first() or create_tenant(slug="bench", name="B")
    save_server(
        tenant,
        {
            "name": "DEFAULT",
            "host": "127.0.0.1",
            "port": sink_port,
            "security": "none",
            "default_from": "app@bench.example",
            "max_connections": 8,
        },
    )
    return tenant


def enqueue(tenant, n: int, chunk: int = 1000) -> float:
    from outbox.services import send_messages

    body = sample_message().decode().split("\r\n\r\n", 1)[1]
    start = time.perf_counter()
    for first in range(0, n, chunk):
        items = [
            {"to": [f"user{i}@bench.example"], "subject": "benchmark", "text": body}
            for i in range(first, min(n, first + chunk))
        ]
        send_messages(tenant, items)
    return time.perf_counter() - start


def start_workers(count: int, concurrency: int) -> list[subprocess.Popen]:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    procs = []
    for index in range(count):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "mailadmin",
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--concurrency",
                    str(concurrency),
                    "--hostname",
                    f"bench{index}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    time.sleep(3)  # let them connect; a worker's start-up is not delivery time
    return procs


def stop_workers(procs) -> None:
    import signal

    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=30)


def rss_mb(procs) -> float:
    """Resident memory of the workers and their pool processes."""
    pids = set()
    for proc in procs:
        pids.add(proc.pid)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        pids.update(int(p) for p in children.stdout.split())
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def wait_sent(n: int, timeout: float) -> float:
    from mailadmin.status import MessageStatus
    from outbox.models import Message

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        sent = Message.objects.filter(status=MessageStatus.SENT).count()
        if sent >= n:
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"only {sent} of {n} sent within {timeout:.0f} s")


def start_web(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "mailadmin.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        start_new_session=True,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("gunicorn did not start")


def api_key(tenant) -> str:
    from tenants.services import create_api_key

    return create_api_key(tenant, name=f"bench-{time.time_ns()}", role="sender")[1]


def busy_seconds() -> float:
    """CPU time the whole machine has spent working (user + system, not idle, not stolen)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def rest_figures(
    port: int, key: str, connections: int, seconds: int = 10
) -> tuple[float, float, float]:
    """POST .../messages under wrk (2 threads): requests/s, p50 in ms, and the CPU time the
    machine spent per request (gunicorn, PostgreSQL, Redis and wrk together) in ms. The last
    holds steady where the rate swings with other tenants of the host: 2 CPUs ÷ it is the
    ceiling."""
    script = BENCH_DIR / "post.lua"
    body = '{"to": ["user@bench.example"], "subject": "benchmark", "text": "Hello."}'
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    url = f"http://127.0.0.1:{port}/api/v1/tenants/bench/messages"
    busy = busy_seconds()
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    busy = busy_seconds() - busy
    rate = float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1])
    requests_done = int(next(ln for ln in out.splitlines() if "requests in" in ln).split()[0])
    p50 = next(line for line in out.splitlines() if line.strip().startswith("50%")).split()[-1]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    unit = next(u for u in ("us", "ms", "s") if p50.endswith(u))
    return rate, float(p50[: -len(unit)]) * scale[unit], busy / requests_done * 1000


def rest_batch_rate(port: int, key: str, n: int, per_call: int = 1000) -> float:
    """Messages a second through POST .../messages/batch, one caller, `per_call` at a time."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {key}"
    url = f"http://127.0.0.1:{port}/api/v1/tenants/bench/messages/batch"
    body = sample_message().decode().split("\r\n\r\n", 1)[1]
    start = time.perf_counter()
    for first in range(0, n, per_call):
        count = min(per_call, n - first)
        items = [
            {"to": [f"user{first + i}@bench.example"], "subject": "benchmark", "text": body}
            for i in range(count)
        ]
        response = session.post(url, json={"messages": items}, timeout=120)
        response.raise_for_status()
    return n / (time.perf_counter() - start)


def settle(quiet: float = 1.0) -> None:
    """Wait until gunicorn has answered the requests wrk left in its backlog."""
    from outbox.models import Message

    last, still_since = -1, time.perf_counter()
    while time.perf_counter() - still_since < quiet:
        count = Message.objects.count()
        if count != last:
            last, still_since = count, time.perf_counter()
        time.sleep(0.1)


def idle_latency(port: int, key: str, tenant, rounds: int = 40) -> float:
    """One message at a time into an idle system: REST accept → the SMTP server's 250, p50 ms."""
    import statistics
    import threading

    import requests
    from aiosmtpd.controller import Controller

    from servers.services import save_server

    arrived: dict[str, float] = {}
    got = threading.Event()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            arrived[envelope.rcpt_tos[0]] = time.perf_counter()
            got.set()
            return "250 OK"

    smtp_port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    save_server(
        tenant,
        {
            "name": "LATENCY",
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "default_from": "app@bench.example",
        },
    )
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {key}"
    url = f"http://127.0.0.1:{port}/api/v1/tenants/bench/messages"
    samples = []
    try:
        for i in range(rounds):
            got.clear()
            sent = time.perf_counter()
            response = session.post(
                url,
                json={"server": "LATENCY", "to": [f"l{i}@bench.example"], "text": "ping"},
                timeout=10,
            )
            response.raise_for_status()
            if not got.wait(10):
                raise SystemExit("a latency probe was not delivered within 10 s")
            samples.append((arrived[f"l{i}@bench.example"] - sent) * 1000)
            time.sleep(0.1)
    finally:
        controller.stop()
    return statistics.median(samples)


STAGES = ("delivery", "end_to_end", "memory", "rest", "latency")


def delivery_stage(port: int, n: int, args) -> tuple[float, float, float, float]:
    """Queue n messages, then time workers sending them: (enqueue rate, delivery rate, RSS)."""
    tenant = reset(port)
    enqueue_seconds = enqueue(tenant, n)
    workers = start_workers(args.workers, args.concurrency)
    rss_start = rss_mb(workers)
    start = time.perf_counter()
    delivery = n / (wait_sent(n, 1800) - start)
    rss_end = rss_mb(workers)
    stop_workers(workers)
    return n / enqueue_seconds, delivery, rss_start, rss_end


def end_to_end_stage(port: int, n: int, args) -> float:
    tenant = reset(port)
    workers = start_workers(args.workers, args.concurrency)
    start = time.perf_counter()
    enqueue(tenant, n)
    rate = n / (wait_sent(n, 900) - start)
    stop_workers(workers)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="messages per stage")
    parser.add_argument("--memory-n", type=int, default=100000, help="messages for worker RSS")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool size per worker")
    parser.add_argument(
        "--connections", default="4,16", help="wrk connections for the REST figures"
    )
    parser.add_argument("--stages", default=",".join(STAGES), help=f"some of {STAGES}")
    args = parser.parse_args()
    stages = set(args.stages.split(","))
    if unknown := stages - set(STAGES):
        raise SystemExit(f"unknown stages {unknown}; choose from {STAGES}")
    port = free_port()
    sink = start_sink(port)
    lines = []
    try:
        setup_django()
        raw = raw_smtplib_rate(port, min(args.n, 20000))
        rows = [("raw smtplib, one connection (yardstick)", raw, None)]
        if "delivery" in stages:
            enqueue_rate, delivery, *_ = delivery_stage(port, args.n, args)
            rows.append(("enqueue only, bulk Python API", enqueue_rate, None))
            rows.append((f"delivery stage, {args.workers} workers", delivery, 3000))
        if "end_to_end" in stages:
            rows.append(
                ("bulk enqueue + delivery, end to end", end_to_end_stage(port, args.n, args), 1500)
            )
        if "memory" in stages:
            *_, rss_start, rss_end = delivery_stage(port, args.memory_n, args)
            lines.append(
                f"worker RSS ({args.workers} workers): {rss_start:.0f} MB at start, "
                f"{rss_end:.0f} MB after {args.memory_n:,} messages (target: flat)"
            )
        if stages & {"rest", "latency"}:
            tenant = reset(port)
            key = api_key(tenant)
            web_port = free_port()
            web = start_web(web_port)
            try:
                if "rest" in stages:
                    for connections in (int(c) for c in args.connections.split(",")):
                        rate, p50, cpu = rest_figures(web_port, key, connections)
                        settle()
                        lines.append(
                            f"REST POST .../messages, gunicorn 2 workers, wrk {connections} "
                            f"connections: {rate:,.0f} req/s (target ≥400), p50 {p50:.1f} ms "
                            f"(target ≤15); machine CPU {cpu:.2f} ms a request"
                        )
                if "rest" in stages:
                    reset(port)
                    rate = rest_batch_rate(web_port, key, args.n)
                    lines.append(
                        f"REST POST .../messages/batch, 1,000 a call, one caller: {rate:,.0f} msg/s"
                    )
                if "latency" in stages:
                    reset(port)
                    workers = start_workers(1, 1)
                    latency = idle_latency(web_port, key, tenant)
                    stop_workers(workers)
                    lines.append(
                        "idle-queue latency, REST accept → SMTP 250, Redis broker: "
                        f"p50 {latency:.0f} ms (target ≤100)"
                    )
            finally:
                web.terminate()
                web.wait(timeout=30)
    finally:
        sink.terminate()

    print(f"\n{args.n} messages of ~2 KB, PostgreSQL + Redis, {os.cpu_count()} CPUs\n")
    print(f"{'figure':<44}{'msg/s':>10}{'target':>10}{'× raw':>8}")
    for name, rate, target in rows:
        target_text = f"≥{target}" if target else ""
        print(f"{name:<44}{rate:>10,.0f}{target_text:>10}{rate / raw:>8.2f}")
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    if shutil.which("pg_isready") is None or shutil.which("wrk") is None:
        raise SystemExit("bench needs PostgreSQL, Redis and wrk: run `make bench`")
    main()
