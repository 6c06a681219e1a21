from mailadmin.fields import reveal

from .base import Provider, SmtpLogin


class BasicProvider(Provider):
    id = "basic"
    label = "Basic (SMTP username and password)"
    required_fields = ("username", "password")
    secret_fields = ("password",)
    help_text = {
        "username": "The SMTP login, usually the mailbox address.",
        "password": "The SMTP password, or an app password where the provider requires one.",
    }

    def smtp_login(self, account) -> SmtpLogin:
        return SmtpLogin("password", account.username, reveal(account.password))
