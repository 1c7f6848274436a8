"""The token-signing secret, an SSM SecureString, cached by powertools parameters."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from wspush.logic.tokens import parse_secrets
from wspush.models.errors import SecretUnavailable


def load_token_secrets(parameter_name: str, max_age: int) -> list[bytes]:
    try:
        value = parameters.get_parameter(parameter_name, decrypt=True, max_age=max_age)
    except parameters.exceptions.GetParameterError as error:
        # The message names the parameter, never its value.
        raise SecretUnavailable(f"cannot read parameter {parameter_name}") from error
    try:
        return parse_secrets(value)
    except ValueError as error:
        raise SecretUnavailable(f"parameter {parameter_name}: {error}") from None
