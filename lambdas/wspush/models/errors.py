"""Failures of the data-access layer, as the layers above it see them: here, in models,
so logic can recognise them without importing dal."""


class StoreError(RuntimeError):
    """The connections table could not be read or written."""


class SecretUnavailable(RuntimeError):
    """The token-signing secret could not be loaded."""


class KeysUnavailable(RuntimeError):
    """A trusted issuer's signing keys (JWKS) could not be fetched."""
