from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import services
from .access import visible_tenants
from .forms import ApiKeyForm, MemberForm, TenantForm
from .models import ApiKey, Membership, Role
from .pages import tenant_page


@login_required
def home(request):
    tenants = visible_tenants(request.user).filter(active=True)
    if tenants.count() == 1 and not request.user.is_superuser:
        return redirect("server-list", tenant=tenants.first().slug)
    return render(request, "tenants/home.html", {"tenants": tenants})


@login_required
def tenant_new(request):
    if not request.user.is_superuser:
        raise PermissionDenied("Only a platform superuser creates tenants.")
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenant = services.create_tenant(
            slug=form.cleaned_data["slug"], name=form.cleaned_data["name"], owner=request.user
        )
        flash.success(request, f"Tenant {tenant.slug} created.")
        return redirect("server-list", tenant=tenant.slug)
    return render(request, "tenants/tenant_form.html", {"form": form})


@tenant_page(read=Role.ADMIN)
def members(request):
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        role = form.cleaned_data["role"]
        if role == Role.OWNER and request.tenant_role != Role.OWNER:
            form.add_error("role", "Only an owner can make another owner.")
        else:
            try:
                services.set_membership(
                    request.tenant, username=form.cleaned_data["username"], role=role
                )
                flash.success(request, f"{form.cleaned_data['username']} is now {role}.")
                return redirect("members", tenant=request.tenant.slug)
            except get_user_model().DoesNotExist:
                form.add_error("username", "No user with this username. Create the user first.")
    rows = Membership.objects.for_tenant(request.tenant).select_related("user")
    return render(request, "tenants/members.html", {"form": form, "members": rows})


@require_POST
@tenant_page(write=Role.ADMIN)
def member_remove(request, pk):
    membership = get_object_or_404(Membership.objects.for_tenant(request.tenant), pk=pk)
    if membership.role == Role.OWNER and request.tenant_role != Role.OWNER:
        raise PermissionDenied("Only an owner can remove an owner.")
    services.remove_membership(membership)
    flash.success(request, f"{membership.user.username} removed.")
    return redirect("members", tenant=request.tenant.slug)


@tenant_page(read=Role.ADMIN)
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        key, raw = services.create_api_key(request.tenant, **form.cleaned_data)
        # Shown in this response only: the page is rendered, never redirected, so a reload
        # does not show it again, and only its hash is stored.
        created = {"key": key, "raw": raw}
        form = ApiKeyForm()
    keys = ApiKey.objects.for_tenant(request.tenant)
    return render(
        request, "tenants/api_keys.html", {"form": form, "keys": keys, "created": created}
    )


@require_POST
@tenant_page(write=Role.ADMIN)
def api_key_revoke(request, pk):
    key = get_object_or_404(ApiKey.objects.for_tenant(request.tenant), pk=pk)
    services.revoke_api_key(key)
    flash.success(request, f"Key {key.name} revoked.")
    return redirect("api-keys", tenant=request.tenant.slug)
