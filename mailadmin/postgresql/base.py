"""Django's PostgreSQL backend, with a health check that costs no round trip and a cursor
for statements PostgreSQL should plan once.

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
    def statement_cursor(self):
        """A cursor that binds parameters on the server, so each fixed statement of the hot
        paths (mailadmin.hotpath) is prepared once per connection and then only executed:
        PostgreSQL no longer parses and plans a wide join or INSERT on every API call.

        The ORM keeps Django's client-side binding (it never prepares); this is used only
        for fixed SQL text. Prepared statements live in the server session, which a
        transaction-pooling PgBouncer older than 1.21 does not keep: set
        DATABASE_PREPARED_STATEMENTS=off behind one.
        """
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(base.ServerBindingCursor(self.connection))

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
