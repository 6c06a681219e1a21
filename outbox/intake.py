"""The REST send path's own parsing and answer, for single and batch sends.

Plain code rather than DRF serializers: a serializer deep-copies its fields on every use,
which cost more than storing the message. The types are checked here, each wrong one named
by its field; what the values mean (addresses, From policy, times) is checked once, by
build_message, for every way of sending.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.fields import DateTimeField

from .models import Message

PRIORITIES = ("low", "normal", "high")
# field: (trim whitespace, may be blank, may be null)
STRINGS = {
    "server": (True, True, True),
    "from": (True, True, False),
    "from_name": (True, True, False),
    "subject": (False, True, False),
    "text": (False, False, True),
    "html": (False, False, True),
    "idempotency_key": (True, True, False),
    "send_at": (True, True, True),
    "expires_at": (True, True, True),
}
ADDRESS_LISTS = ("to", "cc", "bcc")
MAX_LENGTH = {"idempotency_key": 200}


def _string(value, *, trim: bool, blank: bool, null: bool, max_length: int | None = None):
    """The value, or raise ValueError with DRF's sentence for what is wrong."""
    if value is None:
        if null:
            return None
        raise ValueError("This field may not be null.")
    if not isinstance(value, str):
        raise ValueError("Not a valid string.")
    if trim:
        value = value.strip()
    if not value and not blank:
        raise ValueError("This field may not be blank.")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"Ensure this field has no more than {max_length} characters.")
    return value


def _attachments(value) -> list[dict]:
    if not isinstance(value, list):
        raise ValueError(f'Expected a list of items but got type "{type(value).__name__}".')
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"Attachment {index}: give an object with filename and content.")
        try:
            filename = _string(item.get("filename"), trim=True, blank=False, null=False)
            content = _string(item.get("content_base64"), trim=True, blank=False, null=False)
            content_type = _string(item.get("content_type", ""), trim=True, blank=True, null=True)
        except ValueError as err:
            raise ValueError(f"Attachment {index}: {err}") from None
        if len(filename) > 255:
            raise ValueError(f"Attachment {index}: the filename is longer than 255 characters.")
        result.append(
            {"filename": filename, "content_type": content_type or "", "content_base64": content}
        )
    return result


def _field(name: str, value):
    if name in STRINGS:
        trim, blank, null = STRINGS[name]
        return _string(value, trim=trim, blank=blank, null=null, max_length=MAX_LENGTH.get(name))
    if name in ADDRESS_LISTS:
        if not isinstance(value, list):
            raise ValueError(f'Expected a list of items but got type "{type(value).__name__}".')
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(f"Item {index}: not a valid string.")
        return [item.strip() for item in value]
    if name == "headers":
        if not isinstance(value, dict):
            raise ValueError(
                f'Expected a dictionary of items but got type "{type(value).__name__}".'
            )
        for header, text in value.items():
            if not isinstance(text, str) or not text:
                raise ValueError(f"Header '{header}' needs a text value.")
        return value
    if name == "attachments":
        return _attachments(value)
    if name == "priority":
        if value not in PRIORITIES:
            raise ValueError(f'"{value}" is not a valid choice.')
        return value
    return value  # reply_to: a string or a list, checked as addresses by build_message


KNOWN = (*STRINGS, *ADDRESS_LISTS, "headers", "attachments", "priority", "reply_to")


def message_fields(data) -> dict:
    """build_message's keyword arguments from one JSON message, or ValidationError naming
    each field of the wrong type. Unknown fields are ignored, as before."""
    if not isinstance(data, dict):
        raise ValidationError(
            {"non_field_errors": [f"Give a JSON object, not {type(data).__name__}."]}
        )
    kwargs, errors = {}, {}
    for name in KNOWN:
        if name not in data:
            continue
        try:
            kwargs["from_email" if name == "from" else name] = _field(name, data[name])
        except ValueError as err:
            errors[name] = [str(err)]
    if errors:
        raise ValidationError(errors)
    return kwargs


_datetime = DateTimeField()


def _when(value):
    return None if value is None else _datetime.to_representation(value)


def accepted(message: Message) -> dict:
    """The answer to a new message: what was queued (the delivery log is still empty)."""
    return {
        "id": str(message.id),
        "status": message.status,
        "server": message.server_name,
        "from": message.from_email,
        "to": message.to,
        "cc": message.cc,
        "bcc": message.bcc,
        "subject": message.subject,
        "message_id": message.message_id,
        "priority": message.priority_name,
        "idempotency_key": message.idempotency_key,
        "created_at": _when(message.created_at),
        "sent_at": _when(message.sent_at),
        "next_attempt_at": _when(message.next_attempt_at),
        "attempts_count": message.attempts_count,
        "expires_at": _when(message.expires_at),
        "last_error": message.last_error,
        "last_reply": message.last_reply,
    }
