import subprocess
import sys

import pytest
from django.core.management import call_command

from tenants.models import ApiKey, Tenant
from tenants.services import hash_key

pytestmark = pytest.mark.django_db


def test_create_tenant_and_api_key_print_the_key_alone_on_the_last_line(capsys):
    call_command("create_tenant", "initech", "--name", "Initech")
    assert Tenant.objects.get(slug="initech").name == "Initech"
    capsys.readouterr()
    call_command("create_api_key", "initech", "ci", "--role", "admin")
    out = capsys.readouterr().out
    key = out.strip().splitlines()[-1]
    assert key.startswith("ma_")
    stored = ApiKey.objects.get(name="ci")
    assert stored.role == "admin"
    assert stored.key_hash == hash_key(key)
    assert key not in stored.key_hash


def test_create_api_key_for_an_unknown_tenant_fails_clearly():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("create_api_key", "nope", "x")


def test_without_keys_and_debug_off_settings_refuse_with_a_sentence(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            "DJANGO_SETTINGS_MODULE": "mailadmin.settings",
            "MAILADMIN_VAR_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set. Set the SECRET_KEY environment variable" in result.stderr
