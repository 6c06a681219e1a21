"""Django's PostgreSQL backend, with a health check that costs no round trip.

Persistent connections are checked once per request before reuse (CONN_HEALTH_CHECKS).
Django's check runs `SELECT 1`: a round trip on every API call, a quarter of the send
path's. An idle connection has nothing to read, so the check here looks at the socket
instead, and asks the server only when something is waiting there: a server that restarted,
timed the session out or terminated it has closed the socket (readable, EOF) or sent its
notice, and `SELECT 1` then fails as before and the connection is replaced.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
            return False
        if conn.info.transaction_status != pq.TransactionStatus.IDLE or not hasattr(select, "poll"):
            return super().is_usable()
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
        if poller.poll(0):
            return super().is_usable()
        return True
