import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists: MAILADMIN_ADMIN_USERNAME/PASSWORD when set, otherwise "
        "`admin` with a random password printed once on first start."
    )

    def handle(self, **options):
        users = get_user_model().objects
        username = os.environ.get("MAILADMIN_ADMIN_USERNAME")
        password = os.environ.get("MAILADMIN_ADMIN_PASSWORD")
        if username and password:
            user, created = users.get_or_create(username=username)
            user.is_superuser = user.is_staff = True
            user.set_password(password)
            user.save()
            self.stdout.write(f"Superuser {username} {'created' if created else 'updated'}.")
            return
        if users.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", "", password)
        self.stdout.write(
            "\n  First start: created superuser 'admin' with password "
            f"{password}\n  (shown only this once; change it after logging in)\n"
        )
