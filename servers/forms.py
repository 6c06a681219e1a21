import re

from django import forms

from mailadmin.forms import Form

from .models import FromPolicy, Security, ServerConfig, Transport

_SPLIT = re.compile(r"[\s,;]+")


class ListField(forms.CharField):
    """A textarea of addresses, one per line (commas also separate)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [v for v in _SPLIT.split(value or "") if v]


class ServerForm(Form):
    # Connection
    name = forms.CharField(
        max_length=100, help_text="e.g. DEFAULT. Applications send by this name."
    )
    description = forms.CharField(max_length=500, required=False)
    active = forms.BooleanField(required=False, initial=True)
    is_default = forms.BooleanField(required=False, label="Default server of this tenant")
    transport = forms.ChoiceField(choices=Transport.choices, initial=Transport.SMTP, required=False)
    host = forms.CharField(max_length=253, required=False, help_text="e.g. smtp.example.com")
    port = forms.IntegerField(
        min_value=1,
        max_value=65535,
        initial=587,
        help_text="587 for STARTTLS, 465 for SSL on connect, 25 for relays.",
    )
    security = forms.ChoiceField(choices=Security.choices, initial=Security.AUTO)
    verify_certificate = forms.BooleanField(
        required=False, initial=True, label="Validate the server's certificate"
    )
    ca_certificates = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="CA certificates (PEM)",
        help_text="For servers with a private or self-signed certificate.",
    )
    timeout_seconds = forms.FloatField(min_value=1, max_value=600, initial=30, label="Timeout (s)")
    # Authentication
    auth_account = forms.ChoiceField(required=False, label="Auth account")
    # Message defaults
    default_from = forms.CharField(max_length=320, required=False, label="Default From")
    default_from_name = forms.CharField(max_length=200, required=False, label="From name")
    reply_to = forms.CharField(max_length=320, required=False, label="Reply-To")
    from_policy = forms.ChoiceField(choices=FromPolicy.choices, initial=FromPolicy.ALLOW_ANY)
    allowed_from = ListField(required=False, label="Allowed From (addresses or @domains)")
    # Delivery
    max_connections = forms.IntegerField(min_value=1, initial=4)
    rate_limit_per_minute = forms.IntegerField(
        min_value=0, initial=0, help_text="Messages per minute; 0 = no limit."
    )
    fallback = forms.ChoiceField(
        required=False,
        label="Fallback server",
        help_text="Mail goes through it when this server fails temporarily.",
    )
    override_recipients = ListField(
        required=False,
        label="Recipient override (staging)",
        help_text="When set, every message goes only to these addresses.",
    )
    # Microsoft Graph
    graph_mailbox = forms.CharField(
        max_length=320,
        required=False,
        label="Graph mailbox",
        help_text="The mailbox that sends (address or user ID); the default From if empty.",
    )
    graph_endpoint = forms.CharField(
        max_length=300,
        required=False,
        initial="https://graph.microsoft.com/v1.0",
        label="Graph endpoint",
        help_text="Change only for national clouds.",
    )
    save_to_sent_items = forms.BooleanField(
        required=False, initial=True, label="Save to Sent Items"
    )
    # Advanced
    allow_utf8 = forms.BooleanField(required=False, label="Allow UTF-8 addresses (SMTPUTF8)")

    GROUPS = {
        "Connection": [
            "name",
            "description",
            "active",
            "is_default",
            "transport",
            "host",
            "port",
            "security",
            "verify_certificate",
            "ca_certificates",
            "timeout_seconds",
        ],
        "Authentication": ["auth_account"],
        "Message defaults": [
            "default_from",
            "default_from_name",
            "reply_to",
            "from_policy",
            "allowed_from",
        ],
        "Delivery": ["max_connections", "rate_limit_per_minute", "fallback", "override_recipients"],
        "Microsoft Graph": ["graph_mailbox", "graph_endpoint", "save_to_sent_items"],
        "Advanced": ["allow_utf8"],
    }

    def __init__(
        self,
        *args,
        server: ServerConfig | None = None,
        account_names=(),
        server_names=(),
        **kwargs,
    ):
        if server is not None and "initial" not in kwargs:
            named = ("auth_account", "fallback")
            initial = {f: getattr(server, f) for f in self.base_fields if f not in named}
            for field in named:
                related = getattr(server, field)
                initial[field] = related.name if related else ""
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.fields["auth_account"].choices = [("", "None (open relay)")] + [
            (n, n) for n in account_names
        ]
        self.fields["fallback"].choices = [("", "None")] + [
            (n, n) for n in server_names if server is None or n != server.name
        ]

    def clean_transport(self):
        return self.cleaned_data["transport"] or Transport.SMTP

    def clean_graph_endpoint(self):
        return self.cleaned_data["graph_endpoint"] or "https://graph.microsoft.com/v1.0"

    def groups(self):
        return [(title, [self[f] for f in names]) for title, names in self.GROUPS.items()]


class TestEmailForm(Form):
    send_to = forms.EmailField(label="Send a test email to")
