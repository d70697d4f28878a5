"""Make sure an ``admin`` superuser exists on a local install, and print how to log in."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tracker.models import Team


class Command(BaseCommand):
    help = "Create the local admin login if missing (password kept in var/admin-password)."

    def handle(self, *args, **options):
        password_file = settings.VAR_DIR / "admin-password"
        if not password_file.exists():
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(secrets.token_urlsafe(12))
        password = password_file.read_text().strip()
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True},
        )
        if created or not admin.check_password(password):
            admin.set_password(password)
            admin.save()
        for team in Team.objects.all():
            team.members.add(admin)
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin login: http://127.0.0.1:8000/admin/  user: admin  password: {password}"
            )
        )
