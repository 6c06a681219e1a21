from django import forms

from mailadmin.forms import Form

from .models import AuthAccount
from .providers import KIND_CHOICES, PROVIDERS

KIND_FIELDS = (
    "username",
    "password",
    "client_id",
    "client_secret",
    "directory_id",
    "authorization_endpoint",
    "token_endpoint",
    "scopes",
    "scope_delimiter",
)


def kinds_using(field: str) -> list[str]:
    return [p.id for p in PROVIDERS.values() if field in (*p.required_fields, *p.optional_fields)]


class LinesField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


def secret_input():
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class AuthAccountForm(Form):
    name = forms.CharField(max_length=100, help_text="Letters, digits, '-' and '_'.")
    description = forms.CharField(max_length=500, required=False)
    active = forms.BooleanField(required=False, initial=True)
    kind = forms.ChoiceField(choices=KIND_CHOICES, label="Account type")
    username = forms.CharField(max_length=320, required=False, label="Username")
    password = forms.CharField(required=False, widget=secret_input(), label="Password")
    client_id = forms.CharField(max_length=500, required=False, label="Client ID")
    client_secret = forms.CharField(required=False, widget=secret_input(), label="Client secret")
    directory_id = forms.CharField(max_length=200, required=False, label="Directory (tenant) ID")
    authorization_endpoint = forms.CharField(
        max_length=500, required=False, label="Authorization endpoint"
    )
    token_endpoint = forms.CharField(max_length=500, required=False, label="Token endpoint")
    scopes = LinesField(required=False, label="Scopes (one per line)")
    scope_delimiter = forms.ChoiceField(
        choices=[(" ", "space (standard)"), (",", "comma"), ("+", "plus")],
        initial=" ",
        required=False,
        label="Scope delimiter",
    )

    def __init__(self, *args, account: AuthAccount | None = None, **kwargs):
        if account is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                f: getattr(account, f)
                for f in self.base_fields
                if f not in ("password", "client_secret")
            }
        super().__init__(*args, **kwargs)
        for name in ("password", "client_secret"):
            if account is not None and getattr(account, name):
                # Write-only: say that a value is stored, never show it.
                self.fields[name].help_text = "Set — type a new value to replace it."
                self.fields[name].widget.attrs["placeholder"] = "set — replace"
        for name in KIND_FIELDS:
            self.fields[name].kinds = kinds_using(name)
        self.fields[
            "authorization_endpoint"
        ].help_text = "Google and Microsoft fill this in; override it for sovereign clouds."
        self.fields["token_endpoint"].help_text = self.fields["authorization_endpoint"].help_text

    def clean_scope_delimiter(self):
        return self.cleaned_data["scope_delimiter"] or " "

    def field_rows(self):
        """(bound field, kinds it applies to or None for every kind), for the template."""
        return [(self[name], getattr(self.fields[name], "kinds", None)) for name in self.fields]
