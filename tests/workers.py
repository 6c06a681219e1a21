"""Real `celery worker` processes against the test database and Redis."""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def celery_worker(tmp_path, *, beat: bool = False, concurrency: int = 2, env: dict | None = None):
    name = f"w{uuid.uuid4().hex[:6]}"
    log = tmp_path / f"{name}.log"
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "mailadmin",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if beat:
        cmd += ["--beat", "--schedule", str(tmp_path / f"{name}-beat")]
    process_env = {**os.environ, "DATABASE_URL": database_url(), **(env or {})}
    with open(log, "wb") as out:
        # Its own session, so the whole worker (pool children included) can be killed at once.
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=process_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: b" ready." in log.read_bytes() or proc.poll() is not None,
            timeout=60,
            what="the worker to start",
        )
        if proc.poll() is not None:
            raise AssertionError(f"worker exited:\n{log.read_text()[-3000:]}")
        proc.log = log
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def kill_hard(proc) -> None:
    """What a crashed machine does: SIGKILL to the worker and its pool processes."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
