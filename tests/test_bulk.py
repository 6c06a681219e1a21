"""Bulk sending: the Python API and POST .../messages/batch, all or nothing."""

import pytest

from mailadmin.errors import BatchRejected
from mailadmin.status import MessageStatus
from outbox import delivery
from outbox.models import Message
from outbox.services import send_messages

pytestmark = pytest.mark.django_db


def items(n, **extra):
    return [
        {"to": [f"user{i}@example.com"], "subject": f"n{i}", "text": "hi", **extra}
        for i in range(n)
    ]


def test_send_messages_queues_all_and_one_connection_delivers_them(relay, smtp_server):
    messages = send_messages(relay.tenant, items(50))
    assert len(messages) == 50
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 50
    delivery.deliver_due(server_id=relay.pk)
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 50
    assert len(smtp_server.handler_obj.received) == 50


def test_one_invalid_item_queues_nothing_and_names_its_index_and_field(relay):
    batch = items(5)
    batch[3]["to"] = ["not-an-address"]
    with pytest.raises(BatchRejected) as caught:
        send_messages(relay.tenant, batch)
    assert list(caught.value.errors) == [3]
    assert "to" in caught.value.errors[3]
    assert caught.value.message.startswith("Message 3: to:")
    assert not Message.objects.exists()


def test_idempotency_keys_dedupe_within_and_across_batches(relay):
    first = send_messages(
        relay.tenant,
        [
            {"to": ["a@x.example"], "text": "x", "idempotency_key": "k1"},
            {"to": ["b@x.example"], "text": "x", "idempotency_key": "k1"},
        ],
    )
    assert first[0].id == first[1].id
    again = send_messages(
        relay.tenant, [{"to": ["c@x.example"], "text": "x", "idempotency_key": "k1"}]
    )
    assert again[0].id == first[0].id
    assert Message.objects.count() == 1


def test_batch_endpoint_queues_and_reports_each_message(api, relay):
    response = api.post(
        "/api/v1/tenants/acme/messages/batch", {"messages": items(20)}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["count"] == 20
    assert {m["status"] for m in body["messages"]} == {"queued"}
    assert Message.objects.count() == 20


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"to": []}, "to"),
        ({"subject": "a\nb"}, "subject"),
        ({"priority": "urgent"}, "priority"),
        ({"server": "NOPE"}, "server"),
    ],
)
def test_batch_endpoint_names_the_bad_item(api, relay, bad, field):
    batch = items(3)
    batch[1].update(bad)
    if field == "subject":
        batch[1]["subject"] = "a\r\nBcc: x@y.example"
    response = api.post("/api/v1/tenants/acme/messages/batch", {"messages": batch}, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]["messages"]
    assert list(errors) == ["1"]
    assert field in errors["1"]
    assert not Message.objects.exists()


def test_batch_endpoint_limits_and_shape(api, relay):
    too_many = api.post(
        "/api/v1/tenants/acme/messages/batch", {"messages": items(1001)}, format="json"
    )
    assert too_many.status_code == 400
    assert "At most 1000 messages per batch" in too_many.json()["detail"]
    not_a_list = api.post("/api/v1/tenants/acme/messages/batch", {"messages": "x"}, format="json")
    assert not_a_list.status_code == 400
    assert not Message.objects.exists()
