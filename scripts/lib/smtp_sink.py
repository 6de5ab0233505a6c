#!/usr/bin/env python3
"""A loopback SMTP server for the mailer tests: it accepts mail from one user and keeps every message
as a JSON file in a folder, so a test can read back exactly what arrived.

Up to three listeners, all on 127.0.0.1 and all requiring AUTH before MAIL:
  --port           plain SMTP; AUTH allowed without TLS (only acceptable because this is loopback)
  --starttls-port  STARTTLS required before AUTH and MAIL
  --smtps-port     implicit TLS, offering only AUTH LOGIN so the client's LOGIN fallback is exercised
The TLS listeners need --cert and --key. The file 'ready' appears in the mail folder once all listen.

Each message file holds: listener, tls (whether the session was encrypted), user, mail_from,
mail_options, recipients, data (the message text after dot-unstuffing).
"""
import argparse
import json
import os
import signal
import ssl
import threading
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, folder, listener):
        self.folder = folder
        self.listener = listener

    async def handle_DATA(self, server, session, envelope):
        record = {
            "listener": self.listener,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "user": session.auth_data.login.decode() if session.auth_data else None,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "recipients": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", errors="replace"),
        }
        name = uuid.uuid4().hex
        partial = os.path.join(self.folder, f".{name}.tmp")
        with open(partial, "w") as file:
            json.dump(record, file)
        # Renamed into place before the 250 reply, so a client that has its 250 always finds the file.
        os.rename(partial, os.path.join(self.folder, f"{name}.json"))
        return "250 OK stored as " + name


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--starttls-port", type=int)
    parser.add_argument("--smtps-port", type=int)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--maildir", required=True)
    arguments = parser.parse_args()
    if (arguments.starttls_port or arguments.smtps_port) and not (arguments.cert and arguments.key):
        parser.error("--starttls-port and --smtps-port need --cert and --key")
    os.makedirs(arguments.maildir, exist_ok=True)

    def authenticate(server, session, envelope, mechanism, auth_data):
        valid = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == arguments.user.encode()
            and auth_data.password == arguments.password.encode()
        )
        # handled=False makes aiosmtpd itself answer a failure with 535.
        return AuthResult(success=valid, handled=False, auth_data=auth_data if valid else None)

    def listener(name, port, **options):
        return Controller(
            Sink(arguments.maildir, name), hostname="127.0.0.1", port=port,
            authenticator=authenticate, auth_required=True, **options,
        )

    controllers = [listener("plain", arguments.port, auth_require_tls=False)]
    if arguments.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(arguments.cert, arguments.key)
        if arguments.starttls_port:
            controllers.append(listener("starttls", arguments.starttls_port, tls_context=tls, require_starttls=True))
        if arguments.smtps_port:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; this listener is TLS from the first byte.
            controllers.append(listener(
                "smtps", arguments.smtps_port, ssl_context=tls, auth_require_tls=False, auth_exclude_mechanism=["PLAIN"]))

    for controller in controllers:
        controller.start()
    open(os.path.join(arguments.maildir, "ready"), "w").close()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for controller in controllers:
        controller.stop()


if __name__ == "__main__":
    main()
