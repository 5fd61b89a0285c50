"""A small SMTP server (RFC 5321: HELO/EHLO, MAIL, RCPT, DATA with dot-stuffing, RSET, NOOP,
QUIT) on a thread, for the status e-mail tests: it keeps what it is sent, and can be told to
refuse the next deliveries with a temporary error (451) as a busy server does."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass(frozen=True)
class Delivered:
    sender: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    delivered: list[Delivered] = field(default_factory=list)
    refuse_next: int = 0
    """How many coming deliveries are refused with 451 at RCPT."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[Delivered]:
        with self.lock:
            return list(self.delivered)


def _address(argument: str) -> str:
    """The path of ``MAIL FROM:<a@b>`` / ``RCPT TO:<a@b>`` (parameters after it ignored)."""
    text = argument.split(":", 1)[1].strip() if ":" in argument else argument
    return text.split(">", 1)[0].lstrip("<").strip()


class _Handler(socketserver.StreamRequestHandler):
    mailbox: Mailbox

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 test-smtp ESMTP ready")
        sender = ""
        recipients: list[str] = []
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb == "EHLO":
                self._say("250-test-smtp greets you")
                self._say("250-8BITMIME")
                self._say("250 SMTPUTF8")
            elif verb == "HELO":
                self._say("250 test-smtp")
            elif verb == "MAIL":
                sender, recipients = _address(line), []
                self._say("250 OK")
            elif verb == "RCPT":
                with self.mailbox.lock:
                    refuse = self.mailbox.refuse_next > 0
                    if refuse:
                        self.mailbox.refuse_next -= 1
                if refuse:
                    self._say("451 4.3.0 try again later")
                else:
                    recipients.append(_address(line))
                    self._say("250 OK")
            elif verb == "DATA":
                if not recipients:
                    self._say("503 5.5.1 no valid recipients")
                    continue
                self._say("354 end data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    chunk = self.rfile.readline(1 << 20)
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                with self.mailbox.lock:
                    self.mailbox.delivered.append(
                        Delivered(sender, tuple(recipients), b"".join(lines))
                    )
                self._say("250 OK queued")
            elif verb == "RSET":
                sender, recipients = "", []
                self._say("250 OK")
            elif verb == "NOOP":
                self._say("250 OK")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 5.5.2 command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """A listening server on a free loopback port: (port, its mailbox)."""
    mailbox = Mailbox()
    handler = type("Handler", (_Handler,), {"mailbox": mailbox})
    with _Server(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1], mailbox
        finally:
            server.shutdown()
            thread.join(timeout=10)
