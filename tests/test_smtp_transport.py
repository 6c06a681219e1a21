"""The SMTP transport against real aiosmtpd servers, in every security mode."""

import pytest

from accounts.models import AuthAccount
from mailadmin.errors import AuthenticationError, ConfigurationError, MailError, TransportError
from servers.models import ServerConfig
from servers.transports import transport_for

from .smtp_server import PASSWORD, USERNAME, free_port

RAW = b"From: app@acme.example\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nHello\r\n"


def server_for(controller, *, account=None, **fields) -> ServerConfig:
    fields.setdefault("security", "none")
    return ServerConfig(
        name="T",
        host="127.0.0.1",
        port=controller.port if controller else free_port(),
        timeout_seconds=5,
        auth_account=account,
        **fields,
    )


def basic(password=PASSWORD) -> AuthAccount:
    return AuthAccount(name="a", kind="basic", username=USERNAME, password=password)


def send_one(server) -> object:
    with transport_for(server) as transport:
        return transport.send("app@acme.example", ["bob@example.com"], RAW)


def test_plain_relay_accepts_a_message_and_returns_the_servers_reply(smtp_server):
    result = send_one(server_for(smtp_server))
    assert result.code == 250
    assert result.reply.startswith("2.0.0 Ok: queued as TEST1")
    received = smtp_server.handler_obj.received
    assert [r.rcpt_tos for r in received] == [["bob@example.com"]]
    assert b"Subject: hi" in received[0].content


def test_one_connection_is_reused_for_a_batch(smtp_server):
    with transport_for(server_for(smtp_server)) as transport:
        first = transport.connection
        for _ in range(3):
            transport.send("app@acme.example", ["bob@example.com"], RAW)
        assert transport.connection is first
    assert transport.connection is None
    assert len(smtp_server.handler_obj.received) == 3


def test_starttls_required_with_the_ca_given_succeeds(make_smtp_server, certificates):
    controller = make_smtp_server(mode="starttls")
    server = server_for(controller, security="starttls", ca_certificates=certificates.ca_pem)
    assert send_one(server).code == 250


def test_self_signed_certificate_with_verification_on_fails_with_a_sentence(make_smtp_server):
    controller = make_smtp_server(mode="starttls")
    with pytest.raises(ConfigurationError) as caught:
        send_one(server_for(controller, security="starttls"))
    assert "certificate" in caught.value.message
    assert "could not be verified" in caught.value.message
    assert "CA certificates" in caught.value.hint
    assert not caught.value.retryable


def test_verification_off_accepts_an_unknown_certificate(make_smtp_server):
    controller = make_smtp_server(mode="starttls")
    server = server_for(controller, security="starttls", verify_certificate=False)
    assert send_one(server).code == 250


def test_smtps_ssl_on_connect_with_auth(make_smtp_server, certificates):
    controller = make_smtp_server(mode="smtps", auth=True)
    server = server_for(
        controller,
        security="ssl_on_connect",
        ca_certificates=certificates.ca_pem,
        account=basic(),
    )
    assert send_one(server).code == 250
    assert controller.handler_obj.logins == ["PLAIN"]


def test_auto_uses_starttls_when_the_server_offers_it(make_smtp_server, certificates):
    controller = make_smtp_server(mode="starttls")  # requires STARTTLS: plain would be refused
    server = server_for(controller, security="auto", ca_certificates=certificates.ca_pem)
    assert server.effective_security == "starttls_when_available"
    assert send_one(server).code == 250


def test_auto_means_ssl_on_connect_for_port_465():
    assert ServerConfig(security="auto", port=465).effective_security == "ssl_on_connect"
    assert ServerConfig(security="auto", port=587).effective_security == "starttls_when_available"


def test_starttls_when_available_sends_in_plain_text_to_a_server_without_it(smtp_server):
    server = server_for(smtp_server, security="starttls_when_available")
    assert send_one(server).code == 250


def test_starttls_required_against_a_server_without_it_fails_clearly(smtp_server):
    with pytest.raises(ConfigurationError) as caught:
        send_one(server_for(smtp_server, security="starttls"))
    assert "does not offer STARTTLS" in caught.value.message


def test_auth_plain_with_the_right_password(make_smtp_server, certificates):
    controller = make_smtp_server(mode="starttls", auth=True)
    server = server_for(
        controller, security="starttls", ca_certificates=certificates.ca_pem, account=basic()
    )
    assert send_one(server).code == 250
    assert controller.handler_obj.logins == ["PLAIN"]


def test_auth_login_when_the_server_offers_only_login(make_smtp_server, certificates):
    controller = make_smtp_server(mode="starttls", auth=True, exclude_auth=("PLAIN",))
    server = server_for(
        controller, security="starttls", ca_certificates=certificates.ca_pem, account=basic()
    )
    assert send_one(server).code == 250
    assert controller.handler_obj.logins == ["LOGIN"]


@pytest.mark.parametrize("exclude", [(), ("PLAIN",)], ids=["PLAIN", "LOGIN"])
def test_a_wrong_password_is_a_clear_permanent_failure(make_smtp_server, certificates, exclude):
    controller = make_smtp_server(mode="starttls", auth=True, exclude_auth=exclude)
    server = server_for(
        controller,
        security="starttls",
        ca_certificates=certificates.ca_pem,
        account=basic("wrong password"),
    )
    with pytest.raises(AuthenticationError) as caught:
        send_one(server)
    err = caught.value
    assert err.code == 535
    assert "refused the login" in err.message
    assert "password" in err.hint
    assert not err.retryable
    assert "wrong password" not in err.describe()


def test_a_451_reply_is_a_retryable_error_with_the_servers_words(smtp_server):
    smtp_server.handler_obj.data_replies.append("451 4.3.0 Try again later")
    with pytest.raises(TransportError) as caught:
        send_one(server_for(smtp_server))
    assert caught.value.retryable
    assert caught.value.code == 451
    assert "Try again later" in caught.value.message


def test_a_550_reply_is_permanent_and_keeps_the_reply(smtp_server):
    smtp_server.handler_obj.data_replies.append("550 5.7.1 Relaying denied")
    with pytest.raises(TransportError) as caught:
        send_one(server_for(smtp_server))
    assert not caught.value.retryable
    assert caught.value.reply == "5.7.1 Relaying denied"


def test_a_server_that_is_down_is_a_retryable_error():
    with pytest.raises(TransportError) as caught:
        send_one(server_for(None))
    assert caught.value.retryable
    assert "refused the connection" in caught.value.message


def test_some_recipients_refused_still_sends_to_the_others(smtp_server):
    smtp_server.handler_obj.rcpt_replies["nobody@example.com"] = "550 5.1.1 No such user"
    with transport_for(server_for(smtp_server)) as transport:
        result = transport.send("app@acme.example", ["bob@example.com", "nobody@example.com"], RAW)
    assert result.refused == {"nobody@example.com": (550, "5.1.1 No such user")}
    assert smtp_server.handler_obj.received[0].rcpt_tos == ["bob@example.com"]


def test_every_recipient_refused_with_550_is_permanent(smtp_server):
    smtp_server.handler_obj.rcpt_replies["nobody@example.com"] = "550 5.1.1 No such user"
    with pytest.raises(MailError) as caught, transport_for(server_for(smtp_server)) as transport:
        transport.send("app@acme.example", ["nobody@example.com"], RAW)
    assert not caught.value.retryable
    assert "nobody@example.com" in caught.value.message


def test_smtputf8_is_used_for_international_addresses_when_allowed(smtp_server):
    server = server_for(smtp_server, allow_utf8=True)
    with transport_for(server) as transport:
        transport.send("app@acme.example", ["zoë@example.com"], RAW)
    received = smtp_server.handler_obj.received[0]
    assert received.rcpt_tos == ["zoë@example.com"]
    assert "SMTPUTF8" in received.mail_options


def test_international_address_to_a_server_without_smtputf8_fails_clearly(make_smtp_server):
    controller = make_smtp_server(smtputf8=False)
    server = server_for(controller, allow_utf8=True)
    with pytest.raises(ConfigurationError) as caught, transport_for(server) as transport:
        transport.send("app@acme.example", ["zoë@example.com"], RAW)
    assert "SMTPUTF8" in caught.value.message
