"""The fake cluster's PKI: one CA per test session (``trustme``), the API server's certificate, and client
certificates for users.

As on a real cluster the same CA signs the serving certificate and the client certificates, and the API server
takes a verified client certificate's Common Name as the user name and its Organizations as groups. Everything is
made once per process and cached: a test session (or a script) issues one CA, one serving certificate and one
certificate per user.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")


@functools.cache
def session_ca() -> trustme.CA:
    return trustme.CA(organization_name="netattest fake cluster", organization_unit_name="test session CA")


@functools.cache
def _serving_cert() -> trustme.LeafCert:
    return session_ca().issue_cert(*SERVER_NAMES, common_name="kube-apiserver")


@functools.cache
def client_cert(user: str, group: str = "netattest-testers") -> trustme.LeafCert:
    """A client certificate of ``user`` (CN) in ``group`` (O), signed by the session CA."""
    return session_ca().issue_cert(common_name=user, organization_name=group)


def ca_pem() -> bytes:
    return session_ca().cert_pem.bytes()


def server_context() -> ssl.SSLContext:
    """TLS for the fake API server: its certificate, and client certificates verified when one is offered (as
    kube-apiserver's ``--client-ca-file`` does; without one the request needs a bearer token)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _serving_cert().configure_cert(context)
    session_ca().configure_trust(context)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def user_of(peercert: dict[str, Any] | None) -> str | None:
    """The user a verified client certificate names (its Common Name), or None without one."""
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
