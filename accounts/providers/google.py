from .oauth import OAuthProvider


class GoogleProvider(OAuthProvider):
    id = "google"
    label = "Google OAuth 2.0 (SMTP)"
    required_fields = ("username", "client_id", "client_secret")
    optional_fields = ("authorization_endpoint", "token_endpoint", "scopes")
    defaults = {
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        # mail.google.com is what SMTP needs; openid + email name the consenting mailbox.
        "scopes": ["https://mail.google.com/", "openid", "email"],
    }
    # Without both, Google returns a refresh token only on the very first consent.
    extra_authorize_params = {"access_type": "offline", "prompt": "consent"}
    suggested_server = {"host": "smtp.gmail.com", "port": 587, "security": "starttls"}
    help_text = {
        "username": "The Gmail or Google Workspace address that will send.",
        "client_id": "Google Cloud console → APIs & Services → Credentials → OAuth client ID "
        "(type: Web application).",
        "client_secret": "Shown next to the client ID. Stored encrypted; never shown again.",
    }
