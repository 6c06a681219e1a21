from django.core.management.base import BaseCommand, CommandError

from tenants.models import ApiKey, Tenant
from tenants.services import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a tenant. The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("tenant")
        parser.add_argument("name")
        parser.add_argument("--role", choices=[r for r, _ in ApiKey.API_ROLES], default="sender")

    def handle(self, tenant, name, role, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"No tenant '{tenant}'. Create it with `manage.py create_tenant`.")
        key, raw = create_api_key(found, name=name, role=role)
        self.stderr.write(f"API key {key.name} ({key.role}) for {found.slug}; shown only now:")
        self.stdout.write(raw)
