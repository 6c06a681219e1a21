from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from mailadmin.errors import MailError
from tenants.access import resolve_tenant
from tenants.models import Role
from tenants.pages import apply_errors, tenant_page

from . import services
from .consent import ConsentFailed, callback_url, finish_consent, start_consent
from .forms import AuthAccountForm
from .models import AuthAccount
from .providers import PROVIDERS
from .tokens import get_access_token


def _accounts(request):
    return AuthAccount.objects.for_tenant(request.tenant)


@tenant_page()
def account_list(request):
    return render(request, "accounts/list.html", {"accounts": _accounts(request)})


@tenant_page(read=Role.ADMIN)
def account_edit(request, name=None):
    account = get_object_or_404(_accounts(request), name=name) if name else None
    form = AuthAccountForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_account(request.tenant, form.cleaned_data, account=account)
        except ValidationError as err:
            apply_errors(form, err)
        else:
            flash.success(request, f"Auth account {saved.name} saved.")
            return redirect("account-edit", tenant=request.tenant.slug, name=saved.name)
    return render(
        request,
        "accounts/form.html",
        {
            "form": form,
            "account": account,
            "callback_url": callback_url(),
            "help": {p.id: p.help_text for p in PROVIDERS.values()},
        },
    )


@require_POST
@tenant_page()
def account_delete(request, name):
    account = get_object_or_404(_accounts(request), name=name)
    try:
        services.delete_account(account)
    except services.InUse as err:
        flash.error(request, str(err))
    else:
        flash.success(request, f"Auth account {name} deleted.")
    return redirect("account-list", tenant=request.tenant.slug)


@require_POST
@tenant_page()
def account_authorize(request, name):
    """Generate Tokens / Re-authorize: off to the provider's consent page."""
    account = get_object_or_404(_accounts(request), name=name)
    try:
        return redirect(start_consent(account, user=request.user))
    except MailError as err:
        flash.error(request, err.describe())
        return redirect("account-edit", tenant=request.tenant.slug, name=name)


@require_POST
@tenant_page()
def account_refresh(request, name):
    account = get_object_or_404(_accounts(request), name=name)
    try:
        get_access_token(account, force_refresh=True)
        flash.success(request, "Token refreshed.")
    except MailError as err:
        flash.error(request, err.describe())
    return redirect("account-edit", tenant=request.tenant.slug, name=name)


@require_GET
def oauth_callback(request):
    """The one callback URL of every account. The state, not a login, ties it to an account,
    so the mailbox owner may finish the consent in another browser."""
    try:
        account = finish_consent(request.GET.dict())
    except ConsentFailed as failure:
        return render(
            request,
            "accounts/consent_result.html",
            {
                "failure": failure,
                "account": failure.account,
                "can_edit": _can_edit(request, failure.account),
            },
            status=400,
        )
    if _can_edit(request, account):
        who = account.consented_identity or "the mailbox (the provider did not name it)"
        flash.success(request, f"Connected: tokens saved for {who}.")
        return redirect("account-edit", tenant=account.tenant.slug, name=account.name)
    return render(request, "accounts/consent_result.html", {"account": account, "failure": None})


def _can_edit(request, account) -> bool:
    if account is None or not request.user.is_authenticated:
        return False
    try:
        _, role = resolve_tenant(account.tenant.slug, user=request.user)
    except Exception:  # noqa: BLE001 - Http404: not theirs
        return False
    return role in (Role.OWNER, Role.ADMIN)
