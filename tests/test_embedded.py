"""The embedded shape of `make run`: SQLite and the filesystem broker, with a real worker.

The production shape (PostgreSQL) claims and records with statements of its own; this checks
that the SQLite side of the same engine delivers and records every message too.
"""

import os
import sqlite3
import subprocess
import sys

import pytest

from .workers import ROOT, celery_worker, wait_until

ENQUEUE = """
import os, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from outbox.services import send_messages
from servers.services import save_server
from tenants.services import create_tenant
tenant = create_tenant(slug="acme", name="Acme")
save_server(tenant, {"name": "DEFAULT", "host": "127.0.0.1", "port": int(os.environ["SINK"]),
                     "security": "none", "default_from": "app@acme.example"})
send_messages(tenant, [{"to": [f"u{i}@example.com", "nobody@example.com"], "text": "x"}
                       for i in range(120)])
"""


@pytest.mark.worker
def test_a_worker_on_sqlite_and_the_filesystem_broker_sends_and_records_everything(
    tmp_path, smtp_server
):
    smtp_server.handler_obj.rcpt_replies["nobody@example.com"] = "550 5.1.1 No such user"
    database = tmp_path / "mailadmin.sqlite3"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "CELERY_BROKER_URL": "filesystem://",
        "MAILADMIN_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "mailadmin.settings",
        "SINK": str(smtp_server.port),
    }
    subprocess.run([sys.executable, "-c", ENQUEUE], cwd=ROOT, env={**os.environ, **env}, check=True)

    def counts() -> dict:
        with sqlite3.connect(database) as db:
            return dict(db.execute("SELECT status, count(*) FROM outbox_message GROUP BY status"))

    assert counts() == {"queued": 120}
    with celery_worker(tmp_path, concurrency=1, env=env):
        wait_until(lambda: counts() == {"sent": 120}, timeout=60, what="120 messages sent")
    with sqlite3.connect(database) as db:
        attempts = db.execute(
            "SELECT count(*), count(DISTINCT message_id) FROM outbox_attempt "
            "WHERE outcome = 'sent' AND code = 250"
        ).fetchone()
        replies = [row[0] for row in db.execute("SELECT last_reply FROM outbox_message")]
    assert attempts == (120, 120)
    assert all("refused: nobody@example.com: 550" in reply for reply in replies)
    assert len(smtp_server.handler_obj.received) == 120
