from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tenants.models import Role
from tenants.pages import apply_errors, tenant_page

from . import services
from .forms import AuthAccountForm
from .models import AuthAccount


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
            return redirect("account-list", tenant=request.tenant.slug)
    return render(request, "accounts/form.html", {"form": form, "account": account})


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
