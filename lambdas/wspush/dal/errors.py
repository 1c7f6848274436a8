"""Domain exceptions raised by the data-access layer."""


class StoreError(RuntimeError):
    """The connections table could not be read or written."""


class SecretUnavailable(RuntimeError):
    """The token-signing secret could not be loaded."""


class KeysUnavailable(RuntimeError):
    """A trusted issuer's signing keys (JWKS) could not be fetched."""
