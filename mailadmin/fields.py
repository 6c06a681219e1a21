"""An encrypted text field that never hands back ciphertext by mistake.

django-encrypted-model-fields returns the stored ciphertext as if it were the value when
decryption fails (a wrong or rotated-away FIELD_ENCRYPTION_KEY). A password read that way
would be sent to a mail server. Here such a value loads as `UnreadableSecret`, which keeps
the ciphertext (so saving the row does not destroy it) and raises when used.
"""

import cryptography.fernet
from encrypted_model_fields.fields import EncryptedTextField, decrypt_str, encrypt_str

from .errors import SecretUnreadable


class UnreadableSecret:
    def __init__(self, ciphertext: str):
        self.ciphertext = ciphertext

    def reveal(self):
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY.",
            hint="Restore the key it was saved with (FIELD_ENCRYPTION_KEY may list old keys "
            "after the new one), or enter the secret again.",
        )

    def __str__(self) -> str:
        return "<unreadable secret>"

    __repr__ = __str__

    def __bool__(self) -> bool:
        return True


def reveal(value):
    """The plaintext of a secret field's value; raises SecretUnreadable when it cannot be read."""
    if isinstance(value, UnreadableSecret):
        value.reveal()
    return value


class SecretField(EncryptedTextField):
    def from_db_value(self, value, *args, **kwargs):
        if value is None:
            return None
        try:
            return decrypt_str(value)
        except cryptography.fernet.InvalidToken:
            return UnreadableSecret(value)

    def to_python(self, value):
        if isinstance(value, UnreadableSecret):
            return value
        return super().to_python(value)

    def get_db_prep_save(self, value, connection):
        if isinstance(value, UnreadableSecret):
            return value.ciphertext
        if value is None:
            return None
        return encrypt_str(str(value)).decode("utf-8")
