"""DKIM signing of outgoing mail (RFC 6376) with dkimpy, the `dkim` extra.

    signer = DkimSigner.from_settings(settings.outgoing)     # None when DKIM is off
    transport = DkimSigningTransport(SmtpTransport(settings.outgoing), signer)
    transport.send(message)                                  # signed, then sent

`DkimSigningTransport(inner, signer)` is a `ports.SendTransport` that signs each
message just before handing it to `inner` (any transport: SMTP, the in-memory
`Outbox`, a host's own), so everything that sends through it is signed. Rules:

- rsa-sha256, canonicalization relaxed/relaxed, ``d=`` the signing domain
  (`OutgoingSettings.dkim_domain`, else the From address's domain), ``s=`` the
  selector, ``i=@d``, no ``l=`` (a body length would let anyone append to the body).
- The header fields signed are `OutgoingSettings.dkim_headers` that the message has
  (every instance); those in `dkim_oversign_headers` are listed once more than
  present, so that nobody can add one (a second From, say) without breaking the
  signature. Absent over-signed fields are signed as absent.
- The signature covers the bytes that `SmtpTransport` sends: the message is
  serialized with the same policy (SMTP, or SMTPUTF8 when an address is not ASCII),
  and the copy that goes out carries the same headers and body plus the
  ``DKIM-Signature`` field on top. The caller's message is not changed (except that
  serializing it fixes its MIME boundaries, as any send would).
- The key is read once, when the signer is made: a missing file or environment
  variable, a key that is not an unencrypted RSA key in PEM or shorter than 1024
  bits is a `DkimKeyError` (a `SettingsError`) at start-up, not a failure per message.
  A message that cannot be signed raises `DkimSignError`, a permanent `SendError`.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import copy
import os
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from types import TracebackType
from typing import Any

import dkim  # dkimpy: the `dkim` extra
import dkim.crypto

from ..ports import PreparingSendTransport, SendError, SendTransport
from ..settings import (
    DEFAULT_DKIM_HEADERS,
    DEFAULT_DKIM_OVERSIGN_HEADERS,
    OutgoingSettings,
    SettingsError,
)
from ..spf.setup import txt_zone_line

__all__ = [
    "MIN_KEY_BITS",
    "DkimKeyError",
    "DkimSignError",
    "DkimSigner",
    "DkimSigningTransport",
    "wire_policy",
]

MIN_KEY_BITS = 1024
"""RFC 8301: verifiers ignore shorter RSA keys; 2048 bits is what to generate."""

_PEM_BLOCK = re.compile(
    r"-----BEGIN ((?:RSA |ENCRYPTED )?PRIVATE KEY)-----(.*?)-----END \1-----", re.DOTALL
)
_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_ADDRESS_HEADERS = ("From", "Sender", "To", "Cc", "Bcc")


class DkimKeyError(SettingsError):
    """The DKIM key of the settings cannot be used: `key` names the setting, `rule` why."""


class DkimSignError(SendError):
    """A message could not be signed (permanent: sending it again fails the same way)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=False)


# --- the key -------------------------------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _der_integer(value: int) -> bytes:
    # one byte more than the bits need when the top bit is set: DER integers are signed
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _public_key_info(modulus: int, exponent: int) -> bytes:
    """The DER SubjectPublicKeyInfo of an RSA key: what a DKIM record's ``p=`` holds."""
    rsa_public_key = _der(0x30, _der_integer(modulus) + _der_integer(exponent))
    algorithm = _der(0x30, _der(0x06, _RSA_OID) + _der(0x05, b""))
    return _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_public_key))


def _intact(k: dict[str, int]) -> bool:
    """Whether the parts that signing uses (CRT: primes, exponents, coefficient) agree."""
    p, q, e = k["prime1"], k["prime2"], k["publicExponent"]
    return (
        p > 1
        and q > 1
        and k["modulus"] == p * q
        and (e * k["exponent1"]) % (p - 1) == 1
        and (e * k["exponent2"]) % (q - 1) == 1
        and (k["coefficient"] * q) % p == 1
    )


def _parse_key(text: bytes, key: str, where: str) -> tuple[bytes, dict[str, int]]:
    """(the PEM block, the parsed RSA key) or `DkimKeyError` naming `key` and `where`."""
    decoded = text.decode("ascii", "replace").replace("\\n", "\n").replace("\r\n", "\n")
    match = _PEM_BLOCK.search(decoded)
    rule = "must hold an RSA private key in PEM (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
    if match is None:
        raise DkimKeyError(key, where, rule)
    if match.group(1).startswith("ENCRYPTED"):
        raise DkimKeyError(key, where, "holds an encrypted key: DKIM signing needs it unencrypted")
    body = "".join(match.group(2).split())
    pem = f"-----BEGIN {match.group(1)}-----\n{body}\n-----END {match.group(1)}-----\n"
    try:
        parsed = dkim.crypto.parse_pem_private_key(pem.encode("ascii"))
        parts = {k: int(v) for k, v in parsed.items()}
        intact = _intact(parts)
    # dkimpy's DER reader asserts, indexes and converts without checking first
    except (
        dkim.crypto.UnparsableKeyError,
        binascii.Error,
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        AssertionError,
    ) as exc:
        raise DkimKeyError(key, where, f"{rule} ({type(exc).__name__}: {exc})") from None
    if not intact:
        raise DkimKeyError(key, where, f"{rule} (the key is damaged: its parts do not match)")
    bits = parts["modulus"].bit_length()
    if bits < MIN_KEY_BITS:
        raise DkimKeyError(
            key, where, f"holds a {bits}-bit key: DKIM needs at least 1024 bits (2048 recommended)"
        )
    return pem.encode("ascii"), parts


def _read_key(outgoing: OutgoingSettings, environ: Mapping[str, str]) -> tuple[str, str, bytes]:
    """(setting name, where, key text) from the file or environment variable of the settings."""
    if outgoing.dkim_private_key_file:
        path = outgoing.dkim_private_key_file
        name = "outgoing.dkim_private_key_file"
        try:
            return name, path, Path(path).expanduser().read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DkimKeyError(name, path, f"cannot be read ({reason})") from None
    variable = outgoing.dkim_private_key_env
    name = "outgoing.dkim_private_key_env"
    if not variable:
        raise DkimKeyError("outgoing.dkim_private_key_file", None, "is required for DKIM signing")
    value = environ.get(variable)
    if value is None:
        raise DkimKeyError(name, variable, "names an environment variable that is not set")
    if not value.strip():
        raise DkimKeyError(name, variable, "names an environment variable that is empty")
    return name, f"${variable}", value.encode("utf-8", "replace")


# --- the signer ----------------------------------------------------------------------


def _addresses(message: EmailMessage) -> list[str]:
    values: list[str] = []
    for name in _ADDRESS_HEADERS:
        values.extend(str(v) for v in message.get_all(name) or [])
    return [spec for _, spec in getaddresses(values)]


def wire_policy(message: EmailMessage) -> policy.EmailPolicy[EmailMessage]:
    """The policy `SmtpTransport` serializes `message` with: SMTPUTF8 when an address is not
    ASCII (it then sends with the SMTPUTF8 extension), else SMTP."""
    international = not all(a.isascii() for a in _addresses(message))
    return policy.SMTPUTF8 if international else policy.SMTP


@dataclass(frozen=True)
class DkimSigner:
    """Signs messages with one RSA key as `selector` of `domain` (see the module doc).

    Make it with `from_settings(outgoing)` or `from_pem(pem, selector, domain)`;
    `public_key`, `dns_name` and `dns_record` say what to publish in DNS.
    """

    selector: str
    domain: str
    private_key: bytes = field(repr=False, compare=False)
    """The key in PEM; equal signers have the same public key, in whatever PEM form."""
    headers: tuple[str, ...] = DEFAULT_DKIM_HEADERS
    oversign: tuple[str, ...] = DEFAULT_DKIM_OVERSIGN_HEADERS
    public_key: str = ""
    """Base64 of the DER SubjectPublicKeyInfo: the ``p=`` of the DNS record."""
    key_bits: int = 0

    @classmethod
    def from_pem(
        cls,
        private_key_pem: bytes | str,
        selector: str,
        domain: str,
        *,
        headers: Sequence[str] = DEFAULT_DKIM_HEADERS,
        oversign: Sequence[str] = DEFAULT_DKIM_OVERSIGN_HEADERS,
    ) -> DkimSigner:
        """A signer for an RSA private key in PEM (PKCS#1 or PKCS#8, unencrypted)."""
        text = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        return cls._make(text, "private_key", "<given>", selector, domain, headers, oversign)

    @classmethod
    def from_settings(
        cls, outgoing: OutgoingSettings, *, environ: Mapping[str, str] | None = None
    ) -> DkimSigner | None:
        """The signer of `outgoing` (None when `dkim_selector` is not set).

        Reads the key from `dkim_private_key_file` or the environment variable
        `dkim_private_key_env` (looked up in `environ`, default `os.environ`); raises
        `DkimKeyError` when it is missing or unusable.
        """
        domain = outgoing.dkim_signing_domain
        if outgoing.dkim_selector is None or domain is None:
            return None
        name, where, text = _read_key(outgoing, os.environ if environ is None else environ)
        return cls._make(
            text,
            name,
            where,
            outgoing.dkim_selector,
            domain,
            outgoing.dkim_headers,
            outgoing.dkim_oversign_headers,
        )

    @classmethod
    def _make(
        cls,
        text: bytes,
        name: str,
        where: str,
        selector: str,
        domain: str,
        headers: Sequence[str],
        oversign: Sequence[str],
    ) -> DkimSigner:
        pem, parsed = _parse_key(text, name, where)
        info = _public_key_info(parsed["modulus"], parsed["publicExponent"])
        return cls(
            selector=selector,
            domain=domain.lower().rstrip("."),
            private_key=pem,
            headers=tuple(headers),
            oversign=tuple(oversign),
            public_key=base64.b64encode(info).decode("ascii"),
            key_bits=parsed["modulus"].bit_length(),
        )

    @property
    def dns_name(self) -> str:
        """Where the public key is published: ``<selector>._domainkey.<domain>``."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def dns_record(self) -> str:
        """The TXT record to publish there: ``v=DKIM1; k=rsa; p=...``."""
        return f"v=DKIM1; k=rsa; p={self.public_key}"

    @property
    def zone_line(self) -> str:
        """The record as a zone-file line, split in strings of at most 255 characters."""
        return txt_zone_line(self.dns_name, self.dns_record)

    def signed_fields(self, message: EmailMessage) -> list[str]:
        """The ``h=`` list for `message`: each configured field as often as present,
        over-signed fields once more."""
        present: dict[str, int] = {}
        for name in message:  # header names, repeats included
            present[name.lower()] = present.get(name.lower(), 0) + 1
        fields: list[str] = []
        oversigned = {n.lower() for n in self.oversign}
        for name in dict.fromkeys(n.lower() for n in (*self.headers, *self.oversign)):
            fields.extend([name] * (present.get(name, 0) + (name in oversigned)))
        return fields

    def signature(self, data: bytes, fields: Sequence[str]) -> str:
        """The value of the ``DKIM-Signature`` field for the serialized message `data`."""
        try:
            header: Any = dkim.sign(
                data,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[f.encode("ascii") for f in fields],
            )
        except (dkim.DKIMException, ValueError, UnicodeError) as exc:
            raise DkimSignError(f"DKIM signing failed: {exc}") from exc
        text = bytes(header).decode("ascii")
        name, _, value = text.partition(":")
        assert name.lower() == "dkim-signature"
        # dkimpy folds at 72 characters: keep its lines (the email package writes a value
        # of short lines as it is, joined by the policy's line ends)
        return "\n".join(line.rstrip() for line in value.strip().splitlines())

    def sign(self, message: EmailMessage) -> EmailMessage:
        """A copy of `message` with a ``DKIM-Signature`` field on top."""
        wire = wire_policy(message)
        try:
            data = message.as_bytes(policy=wire)
        except (ValueError, TypeError, UnicodeError) as exc:
            raise DkimSignError(f"the message cannot be serialized: {exc}") from exc
        value = self.signature(data, self.signed_fields(message))
        signed = copy.copy(message)
        # The email package has no public way to put a field on top; a new list (the
        # shallow copy shares the caller's) keeps the headers as they were serialized,
        # in linear time (deleting and re-adding each name would be quadratic).
        headers = [("DKIM-Signature", value), *message._headers]  # type: ignore[attr-defined]
        signed._headers = headers  # type: ignore[attr-defined]
        return signed


class DkimSigningTransport:
    """A `SendTransport` that DKIM-signs each message and hands it to `inner`.

    ``with`` and `open`/`close` reach `inner` when it has them (`SmtpTransport` keeps
    its connection); `deliver` signs and calls `inner.deliver` (`SmtpTransport`'s
    partial-delivery result).
    """

    def __init__(self, inner: SendTransport, signer: DkimSigner) -> None:
        self.inner = inner
        self.signer = signer
        self._signed: weakref.WeakSet[EmailMessage] = weakref.WeakSet()
        self._signed_lock = threading.Lock()

    def prepare(self, message: EmailMessage) -> EmailMessage:
        """`message` signed now (from any thread) and prepared by `inner` when it
        prepares (`ports.PreparingSendTransport`): `send` of the result only sends it.
        A message that cannot be signed is returned as it is, for `send` to refuse."""
        try:
            signed = self.signer.sign(message)
        except DkimSignError:
            return message
        if isinstance(self.inner, PreparingSendTransport):
            signed = self.inner.prepare(signed)
        with self._signed_lock:
            self._signed.add(signed)
        return signed

    def _signed_once(self, message: EmailMessage) -> EmailMessage:
        with self._signed_lock:
            if message in self._signed:
                self._signed.discard(message)
                return message
        return self.signer.sign(message)

    def send(self, message: EmailMessage) -> None:
        """Sign `message` (unless `prepare` made it) and send it through `inner`."""
        self.inner.send(self._signed_once(message))

    def deliver(self, message: EmailMessage) -> Any:
        """Sign `message` (unless `prepare` made it) and `deliver` it through `inner`
        (which must have `deliver`)."""
        return self.inner.deliver(self._signed_once(message))  # type: ignore[attr-defined]

    def open(self) -> None:
        """`inner.open()`, when it has one."""
        opener = getattr(self.inner, "open", None)
        if opener is not None:
            opener()

    def close(self) -> None:
        """`inner.close()`, when it has one."""
        closer = getattr(self.inner, "close", None)
        if closer is not None:
            closer()

    def __enter__(self) -> DkimSigningTransport:
        enter = getattr(self.inner, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        leave = getattr(self.inner, "__exit__", None)
        if leave is not None:
            leave(exc_type, exc, tb)
