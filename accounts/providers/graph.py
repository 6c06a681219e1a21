"""App-only (client credentials) tokens for the Microsoft Graph sendMail transport."""

from mailadmin.errors import ConfigurationError

from .microsoft import LOGIN_HOST, calling, msal_app, result_tokens
from .oauth import TokenProvider, TokenSet

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class MicrosoftGraphProvider(TokenProvider):
    id = "microsoft_graph"
    label = "Microsoft Graph (app-only client credentials)"
    required_fields = ("client_id", "client_secret", "directory_id")
    optional_fields = ("token_endpoint", "scopes")
    help_text = {
        "client_id": "Entra admin center → App registrations → Application (client) ID. "
        "The app needs the Mail.Send application permission with admin consent.",
        "client_secret": "Certificates & secrets → New client secret → copy the Value.",
        "directory_id": "Directory (tenant) ID on the app's Overview page.",
    }

    def fill_defaults(self, account) -> None:
        if not account.token_endpoint:
            account.token_endpoint = f"{LOGIN_HOST}/{account.directory_id}/oauth2/v2.0/token"
        if not account.scopes:
            account.scopes = [GRAPH_SCOPE]

    def refresh(self, account) -> TokenSet:
        result = calling(
            account, lambda: msal_app(account).acquire_token_for_client(list(account.scopes))
        )
        return result_tokens(account, result)

    def smtp_login(self, account):
        raise ConfigurationError(
            f"Auth account '{account.name}' is a Microsoft Graph app-only account; it cannot "
            "log into an SMTP server.",
            hint="Use it with a server whose transport is Graph, or use a Microsoft OAuth 2.0 "
            "account for SMTP.",
        )
