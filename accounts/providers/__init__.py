"""The explicit registry of auth-account kinds: add a module, then add its class here."""

from .base import Provider, SmtpLogin
from .basic import BasicProvider

PROVIDERS: dict[str, Provider] = {cls.id: cls() for cls in (BasicProvider,)}
KIND_CHOICES = [(p.id, p.label) for p in PROVIDERS.values()]

__all__ = ["KIND_CHOICES", "PROVIDERS", "Provider", "SmtpLogin"]
