"""TLS for `wss://`: a throwaway CA and server certificate (trustme), or the user's own."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ttrec.errors import TtrecError
from ttrec.outputs import CA_FILE, CA_TRAILER, write_replacing
from ttrec.wire import HANDSHAKE_TIMEOUT_S

LOOPBACK_NAMES: Final = ("localhost", "127.0.0.1", "::1")
# What OpenSSL's reason codes for the usual failed handshakes mean to the person reading
# the log; any other reason is shown as its own words ("NO_SHARED_CIPHER": no shared cipher).
_CLIENT_HUNG_UP: Final = (
    "the client hung up during the handshake (as Node does when it does not trust the CA)"
)
_FAILURES: Final = {
    "HTTP_REQUEST": "a plain HTTP request on the TLS port (a ws:// URL instead of wss://?)",
    "TLSV1_ALERT_UNKNOWN_CA": "the client does not trust the CA (alert unknown ca)",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the client refused the certificate (alert bad certificate)",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the client refused the certificate (alert certificate unknown)",
}
HUNG_UP_AFTER_HANDSHAKE: Final = "the client hung up right after the TLS handshake (does it trust the CA?)"
NO_REQUEST_AFTER_HANDSHAKE: Final = (
    f"the client sent no HTTP request in the {HANDSHAKE_TIMEOUT_S:g} s after the TLS handshake"
    " (does it trust the CA?)"
)
HANDSHAKE_STALLED: Final = (
    f"the client stopped answering during the handshake ({HANDSHAKE_TIMEOUT_S:g} s;"
    " trio's client does when it does not trust the CA)"
)


class TlsSetupError(TtrecError):
    pass


@dataclass(frozen=True)
class SelfSigned:
    """A server context and the PEM of the CA that signed its certificate."""

    context: ssl.SSLContext
    ca_pem: bytes

    def write_ca(self, path: Path) -> Path:
        """Write the CA where a client can be told to trust it (atomically; marked as
        ttrec's, so only a CA file ttrec wrote is ever replaced: ttrec.outputs)."""
        write_replacing(path, self.ca_pem + CA_TRAILER.encode(), CA_FILE)
        return path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA (for tests and in-process clients)."""
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=self.ca_pem.decode("ascii"))
        return context


def self_signed(hosts: Sequence[str] = ()) -> SelfSigned:
    """A fresh CA and a certificate for the loopback names plus `hosts`."""
    import trustme  # here: it loads `cryptography`, a tenth of every `ttrec serve`'s start-up

    names = list(dict.fromkeys([*LOOPBACK_NAMES, *(h for h in hosts if h)]))
    ca = trustme.CA()
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return SelfSigned(context, ca.cert_pem.bytes())


def from_files(certfile: Path, keyfile: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except FileNotFoundError as exc:
        # ssl leaves `filename` unset: name the file that is missing ourselves.
        missing = exc.filename or next((p for p in (certfile, keyfile) if p and not p.exists()), certfile)
        raise TlsSetupError(f"{missing}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError(f"cannot load the certificate {certfile}: {exc}") from None
    return context


def handshake_failure(cause: BaseException | None) -> str:
    """Why a server-side TLS handshake failed, in words for a log line (never a repr):
    `cause` is what trio's BrokenResourceError says it came from."""
    return _in_words(cause, _CLIENT_HUNG_UP, "during the handshake")


def ended_after_handshake(cause: BaseException | None) -> str:
    """Why a client left after a TLS handshake that succeeded, before sending a byte of its
    HTTP request, in words: `cause` as for `handshake_failure`, None for a plain EOF. A
    client that checks the certificate only once the handshake is done (Node on TLS 1.2)
    refuses it this way."""
    if cause is None:
        return HUNG_UP_AFTER_HANDSHAKE
    return _in_words(cause, HUNG_UP_AFTER_HANDSHAKE, "right after the TLS handshake (does it trust the CA?)")


def _in_words(cause: BaseException | None, hung_up: str, when: str) -> str:
    if isinstance(cause, ssl.SSLError):
        reason = getattr(cause, "reason", None)  # set by OpenSSL; an SSLError made in Python lacks it
        if reason == "UNEXPECTED_EOF_WHILE_READING" or isinstance(
            cause, ssl.SSLEOFError | ssl.SSLSyscallError
        ):
            return hung_up  # (SSLEOFError, SSLSyscallError: an older OpenSSL's EOF)
        if reason in _FAILURES:
            return _FAILURES[reason]
        if reason:
            return str(reason).lower().replace("_", " ")
    elif isinstance(cause, OSError) and cause.strerror:
        return f"{cause.strerror.lower()} {when}"  # e.g. connection reset by peer
    return "the TLS handshake failed"
