from django import forms

from mailadmin.forms import Form, ModelForm

from .models import NAME_VALIDATOR, ApiKey, Role, Tenant


class TenantForm(ModelForm):
    class Meta:
        model = Tenant
        fields = ["slug", "name"]
        help_texts = {"slug": "Short name used in URLs and the API, e.g. acme."}


class MemberForm(Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.SENDER)


class ApiKeyForm(Form):
    name = forms.CharField(max_length=100, validators=[NAME_VALIDATOR])
    role = forms.ChoiceField(choices=ApiKey.API_ROLES, initial=Role.SENDER)
