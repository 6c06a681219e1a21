"""Where SECRET_KEY and FIELD_ENCRYPTION_KEY come from.

The environment wins. Otherwise the embedded shape keeps generated keys under var/ so that
`make run` and every `manage.py` command of the same checkout agree without any setup.
"""

import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

KEY_FILES = {
    "SECRET_KEY": ("secret_key", lambda: secrets.token_urlsafe(50)),
    "FIELD_ENCRYPTION_KEY": ("field_encryption_key", lambda: Fernet.generate_key().decode()),
}


def read_key(name: str, var_dir: Path, env_value: str | None, *, generate: bool) -> str:
    if env_value:
        return env_value
    filename, make = KEY_FILES[name]
    path = var_dir / filename
    if path.exists():
        return path.read_text().strip()
    if not generate:
        raise ImproperlyConfigured(
            f"{name} is not set. Set the {name} environment variable (production), or run "
            f"`make run` once in this checkout, which generates {path} for the embedded shape."
        )
    var_dir.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def ensure_keys(var_dir: Path) -> None:
    """Generate the missing key files (called by `make run` before anything starts)."""
    import os

    for name in KEY_FILES:
        read_key(name, var_dir, os.environ.get(name), generate=True)


if __name__ == "__main__":
    ensure_keys(Path(__file__).resolve().parent.parent / "var")
