"""The stack's C2PA signing key: an ES256 (P-256) key with a certificate chain (leaf, then its CA).

Where it lives:
- locally, a directory (settings.default_signing_dir: SWAPFLOW_SIGNING_DIR, else `signing/` in the
  local stack's data directory SWAPFLOW_DATA_DIR, itself `.swapflow/` by default): `signing-key.json`
  holds the key and chain, `ca.pem` the CA that verifiers trust. Made on first use, once (every
  worker process of the local stack reads the same one), and kept with the stack's other data.
- in AWS, a Secrets Manager secret (SWAPFLOW_SIGNING_SECRET_ARN) holding
  `{"private_key": PEM, "certificate_chain": PEM (leaf first)}`. Bring your own by putting a key and a
  chain from your CA there; an empty secret gets a generated self-signed chain on first use.

A generated chain is self-signed: a C2PA validator reports the signature valid and the signer
untrusted unless it is told to trust `ca.pem` (see `swapflow verify --trust`).
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DirectoryKeyStore", "SecretKeyStore", "SigningKey", "generate_signing_key"]

KEY_FILE = "signing-key.json"
CA_FILE = "ca.pem"
_PEM_END = b"-----END CERTIFICATE-----"


@dataclass(frozen=True)
class SigningKey:
    private_key: bytes  # PKCS#8 PEM
    certificate_chain: bytes  # PEM, leaf first, ending with the CA

    @property
    def ca_certificate(self) -> bytes:
        """The last certificate of the chain: what a verifier adds to its trust anchors."""
        certs = [c + _PEM_END + b"\n" for c in self.certificate_chain.split(_PEM_END) if c.strip()]
        return certs[-1].lstrip()

    def to_json(self) -> str:
        return json.dumps(
            {"private_key": self.private_key.decode(), "certificate_chain": self.certificate_chain.decode()}
        )

    @classmethod
    def from_json(cls, text: str) -> SigningKey | None:
        """The key in a secret or key file; None when it holds none (an empty secret)."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return None
        if not isinstance(data, dict) or not data.get("private_key") or not data.get("certificate_chain"):
            return None
        return cls(str(data["private_key"]).encode(), str(data["certificate_chain"]).encode())


def generate_signing_key(organisation: str = "swapflow", *, days: int = 3650) -> SigningKey:
    """A P-256 key and a two-certificate chain (a CA, and a leaf with the usages C2PA requires)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]
        )

    def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject: str, issuer: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    ca = (
        certificate(
            f"{organisation} content credentials CA",
            name(f"{organisation} content credentials CA"),
            ca_key.public_key(),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=False, ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        certificate(f"{organisation} signer", ca.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return SigningKey(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        leaf.public_bytes(pem) + ca.public_bytes(pem),
    )


class DirectoryKeyStore:
    """The local stack's key, in a directory; created once, atomically, by whichever process comes first."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def load(self) -> SigningKey:
        path = self.directory / KEY_FILE
        if not path.exists():
            self._create(path)
        key = SigningKey.from_json(path.read_text())
        if key is None:
            raise ValueError(f"{path} holds no signing key")
        return key

    def _create(self, path: Path) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = generate_signing_key()
        tmp = self.directory / f".{KEY_FILE}.{os.getpid()}"
        tmp.write_text(key.to_json())
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        winner = SigningKey.from_json(path.read_text())
        if winner is not None:
            (self.directory / CA_FILE).write_bytes(winner.ca_certificate)


class SecretKeyStore:
    """The key in a Secrets Manager secret; an empty secret gets a generated chain (bring your own to replace it)."""

    def __init__(self, read: Callable[[], str], write: Callable[[str], None]) -> None:
        self.read = read
        self.write = write

    def load(self) -> SigningKey:
        key = SigningKey.from_json(self.read())
        if key is not None:
            return key
        self.write(generate_signing_key().to_json())
        key = SigningKey.from_json(self.read())  # a concurrent first use may have written its own: use what is there
        if key is None:
            raise ValueError("the signing secret holds no key after writing one")
        return key
