from django import forms

from mailadmin.forms import Form

from .models import AuthAccount
from .providers import KIND_CHOICES


class AuthAccountForm(Form):
    name = forms.CharField(max_length=100, help_text="Letters, digits, '-' and '_'.")
    description = forms.CharField(max_length=500, required=False)
    active = forms.BooleanField(required=False, initial=True)
    kind = forms.ChoiceField(choices=KIND_CHOICES, label="Account type")
    username = forms.CharField(max_length=320, required=False, label="Username")
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label="Password",
    )

    def __init__(self, *args, account: AuthAccount | None = None, **kwargs):
        if account is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                f: getattr(account, f)
                for f in ("name", "description", "active", "kind", "username")
            }
        super().__init__(*args, **kwargs)
        if account is not None and account.has_password:
            # Write-only: say that a value is stored, never show it.
            self.fields["password"].help_text = "Set — type a new password to replace it."
            self.fields["password"].widget.attrs["placeholder"] = "set — replace"
