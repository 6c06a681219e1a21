"""The explicit registry of auth-account kinds: add a module, then add its class here."""

from .base import Provider, SmtpLogin
from .basic import BasicProvider
from .google import GoogleProvider
from .graph import MicrosoftGraphProvider
from .microsoft import MicrosoftProvider
from .oauth import ClientCredentialsProvider, OAuthProvider, TokenSet

PROVIDERS: dict[str, Provider] = {
    cls.id: cls()
    for cls in (
        BasicProvider,
        OAuthProvider,
        GoogleProvider,
        MicrosoftProvider,
        MicrosoftGraphProvider,
        ClientCredentialsProvider,
    )
}
KIND_CHOICES = [(p.id, p.label) for p in PROVIDERS.values()]

__all__ = ["KIND_CHOICES", "PROVIDERS", "Provider", "SmtpLogin", "TokenSet"]
