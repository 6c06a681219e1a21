"""What happens when an account loses its grant: its mail is held (see outbox.delivery)."""

import logging

log = logging.getLogger(__name__)


def consent_lost(account_id: int) -> None:
    log.warning("auth account %s needs consent again; its mail is held", account_id)
