from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from tenants.services import create_tenant


class Command(BaseCommand):
    help = "Create a tenant."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")

    def handle(self, slug, name, **options):
        try:
            tenant = create_tenant(slug=slug, name=name or slug)
        except IntegrityError as err:
            raise CommandError(f"A tenant with slug '{slug}' already exists.") from err
        self.stdout.write(f"Created tenant {tenant.slug}")
