"""A JSON Web Key Set (RFC 7517) read into the keys that verify RS256 and ES256 signatures.

The algorithm a key verifies comes from the key itself (``kty``, and ``alg`` when it names
one) and never from a token: an RSA key verifies RS256 only, a P-256 key ES256 only, and any
other key (``oct`` secrets included, so a public key can never become an HMAC secret) is
not a verification key at all. A key set that names one ``kid`` twice cannot say which key
it means, so that ``kid`` verifies nothing.

The arithmetic comes from two pure-Python libraries (``rsa`` for PKCS #1 v1.5, ``ecdsa``
for P-256), imported on first use so that a function that never meets such a key does not
pay for them at cold start; pure Python, so the zip built for arm64 runs anywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wspush.logic.tokens import TokenError, b64url_decode

RS256 = "RS256"
ES256 = "ES256"
ALGORITHMS = (RS256, ES256)
# NIST SP 800-57: RSA below 2048 bits is no longer acceptable; above 8192 is no real IdP's
# and only makes each verification slower.
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
# Providers publish a handful of keys (current, next, previous); a set far larger is not a
# key set, and each key costs a parse.
MAX_KEYS = 64
MAX_KID_CHARS = 256
_P256_COORDINATE_BYTES = 32


@dataclass(frozen=True)
class VerificationKey:
    """One signing key of an issuer: its ``kid``, the one algorithm it verifies, and the
    check itself (``verify(signing_input, signature) -> bool``)."""

    kid: str
    algorithm: str
    verify: Callable[[bytes, bytes], bool]


@dataclass(frozen=True)
class KeySet:
    """An issuer's verification keys by ``kid``; ``ambiguous`` are the kids named twice."""

    keys: Mapping[str, VerificationKey]
    ambiguous: frozenset[str] = frozenset()

    def knows(self, kid: str) -> bool:
        return kid in self.keys or kid in self.ambiguous

    def find(self, kid: str) -> VerificationKey:
        """The key ``kid`` names; ``TokenError`` ("ambiguous_kid", "unknown_kid") else."""
        if kid in self.ambiguous:
            raise TokenError("ambiguous_kid")
        key = self.keys.get(kid)
        if key is None:
            raise TokenError("unknown_kid")
        return key


def _unsigned(value: Any) -> int:
    """A JWK's base64url big-endian integer (RFC 7518 2, Base64urlUInt)."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a Base64urlUInt")
    try:
        return int.from_bytes(b64url_decode(value), "big")
    except TokenError:
        raise ValueError("not base64url") from None


def _rsa_verifier(jwk: Mapping[str, Any]) -> Callable[[bytes, bytes], bool]:
    import rsa  # lazy: see the module docstring

    modulus, exponent = _unsigned(jwk.get("n")), _unsigned(jwk.get("e"))
    if not MIN_RSA_BITS <= modulus.bit_length() <= MAX_RSA_BITS:
        raise ValueError("RSA modulus size out of range")
    if exponent < 3 or exponent % 2 == 0 or exponent >= modulus:
        raise ValueError("bad RSA exponent")
    public_key = rsa.PublicKey(modulus, exponent)
    size = (modulus.bit_length() + 7) // 8

    def verify(signing_input: bytes, signature: bytes) -> bool:
        # RFC 7518 3.3: the signature is exactly as long as the modulus.
        if len(signature) != size or int.from_bytes(signature, "big") >= modulus:
            return False
        try:
            # rsa compares the whole PKCS #1 v1.5 encoding it rebuilds, not a parse of the
            # decrypted block; it names the hash it found, which must be SHA-256.
            return bool(rsa.verify(signing_input, signature, public_key) == "SHA-256")
        except rsa.VerificationError:
            return False

    return verify


def _p256_verifier(jwk: Mapping[str, Any]) -> Callable[[bytes, bytes], bool]:
    import ecdsa  # lazy: see the module docstring
    from ecdsa.util import sigdecode_string

    if jwk.get("crv") != "P-256":
        raise ValueError("unsupported curve")
    x, y = (_coordinate(jwk.get(name)) for name in ("x", "y"))
    try:
        # Checks that the point is on the curve (an invalid-curve key is refused here).
        public_key = ecdsa.VerifyingKey.from_string(
            x + y, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256, valid_encodings=("raw",)
        )
    except (ecdsa.MalformedPointError, ValueError, AssertionError):
        raise ValueError("not a point on P-256") from None

    def verify(signing_input: bytes, signature: bytes) -> bool:
        # RFC 7518 3.4: R and S, 32 bytes each, not DER.
        if len(signature) != 2 * _P256_COORDINATE_BYTES:
            return False
        try:
            return bool(
                public_key.verify(
                    signature, signing_input, hashfunc=hashlib.sha256, sigdecode=sigdecode_string
                )
            )
        except ecdsa.BadSignatureError:
            return False

    return verify


def _coordinate(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("missing coordinate")
    try:
        decoded = b64url_decode(value)
    except TokenError:
        raise ValueError("not base64url") from None
    if len(decoded) != _P256_COORDINATE_BYTES:
        raise ValueError("a P-256 coordinate is 32 bytes")
    return decoded


_VERIFIERS: dict[tuple[str, str], Callable[[Mapping[str, Any]], Callable[[bytes, bytes], bool]]]
_VERIFIERS = {("RSA", RS256): _rsa_verifier, ("EC", ES256): _p256_verifier}
_ALGORITHM_OF_KEY_TYPE = {"RSA": RS256, "EC": ES256}


def _verification_key(jwk: Mapping[str, Any]) -> VerificationKey:
    """``jwk`` as a verification key, or ``ValueError`` for a key that is not one."""
    algorithm = _ALGORITHM_OF_KEY_TYPE.get(jwk.get("kty"))  # type: ignore[arg-type]
    if algorithm is None:
        raise ValueError("not an RSA or EC key")
    if jwk.get("alg", algorithm) != algorithm:
        raise ValueError("the key names another algorithm")
    if jwk.get("use", "sig") != "sig":
        raise ValueError("not a signing key")
    operations = jwk.get("key_ops")
    if operations is not None and (not isinstance(operations, list) or "verify" not in operations):
        raise ValueError("not a verification key")
    verifier = _VERIFIERS[(jwk["kty"], algorithm)](jwk)
    return VerificationKey(jwk["kid"], algorithm, verifier)


def parse_key_set(document: Any) -> KeySet:
    """The verification keys of a JWKS document. Keys that cannot verify RS256 or ES256
    (other types, curves, sizes, ``use: enc``) are left out; ``ValueError`` when the
    document is not a key set."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS is an object with a list of keys")
    if len(document["keys"]) > MAX_KEYS:
        raise ValueError(f"a JWKS of more than {MAX_KEYS} keys")
    keys: dict[str, VerificationKey] = {}
    seen: set[str] = set()
    ambiguous: set[str] = set()
    for jwk in document["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
            continue
        if kid in seen:
            ambiguous.add(kid)
        seen.add(kid)
        try:
            keys[kid] = _verification_key(jwk)
        except ValueError:
            continue
    for kid in ambiguous:
        keys.pop(kid, None)
    return KeySet(keys, frozenset(ambiguous))
