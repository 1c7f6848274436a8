"""The emulator's state as one file: every moto backend that holds something, pickled.

``wspush run`` saves it right after Terraform applied, and loads it into a fresh emulator
instead of applying again when nothing the apply depends on changed (``stack.snapshot``).

moto keeps each service's state in a ``BackendDict`` (account -> region -> backend) at
module level; those of the moto modules loaded so far are saved, in one pickle, so that
objects shared between services stay shared. What pickle cannot take as it is gets an
equivalent: a lock becomes a fresh lock (nothing holds one between requests), a weak-value
dictionary keeps its live values, a private or public key (KMS's) is saved as DER, and a
``defaultdict`` whose factory is a local lambda gets a picklable factory making the same
empty container (a subclass keeps its attributes); anything else fails the save clearly.
Loading puts each backend's accounts back into the live ``BackendDict``, where the server's
handlers look their backend up.
"""

from __future__ import annotations

import collections
import functools
import importlib
import pickle
import sys
import threading
import typing
import weakref
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from moto.core.base_backend import BackendDict
from moto.core.model_instances import reset_model_data

# Bump when what is saved changes shape: an older file is then rebuilt, never loaded.
FORMAT = 1
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_PRIVATE_KEYS = typing.get_args(PrivateKeyTypes)
_PUBLIC_KEYS = typing.get_args(PublicKeyTypes)
# moto's own control plane (recorder, state manager), not AWS state.
_SKIPPED_PREFIX = "moto.moto_api"


class EmulatorStateError(RuntimeError):
    """The emulator's state cannot be saved or loaded (the caller applies instead)."""


def _new_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _new_defaultdict(cls: Any, factory: Any) -> Any:
    """A ``defaultdict`` (or a subclass, whose ``__init__`` may want other arguments) with
    ``factory``; its attributes and items follow."""
    made = cls.__new__(cls)
    collections.defaultdict.__init__(made, factory)
    return made


def _is_local(factory: Any) -> bool:
    return "<" in getattr(factory, "__qualname__", "")


def _plain_factory(factory: Any) -> Any:
    """A picklable factory making what ``factory`` (a local lambda) makes."""
    sample = factory()
    if isinstance(sample, collections.defaultdict) and not sample:
        inner = sample.default_factory
        if inner is None or not _is_local(inner):
            return functools.partial(collections.defaultdict, inner)
    elif type(sample) in (dict, list, set) and not sample:
        return type(sample)
    raise EmulatorStateError(f"cannot save a defaultdict made by {factory!r}")


def _private_key(der: bytes) -> Any:
    return serialization.load_der_private_key(der, password=None)


def _public_key(der: bytes) -> Any:
    return serialization.load_der_public_key(der)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _PRIVATE_KEYS):
            der = obj.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _private_key, (der,)
        if isinstance(obj, _PUBLIC_KEYS):
            der = obj.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return _public_key, (der,)
        if isinstance(obj, _LOCK_TYPES):
            return _new_lock, ("RLock" in type(obj).__name__,)
        if isinstance(obj, weakref.WeakValueDictionary):
            return _weak_values, (dict(obj.items()),)
        if isinstance(obj, collections.defaultdict):
            factory = obj.default_factory
            if type(obj) is collections.defaultdict and not _is_local(factory):
                return NotImplemented
            if _is_local(factory):
                factory = _plain_factory(factory)
            state = getattr(obj, "__dict__", None) or None
            return _new_defaultdict, (type(obj), factory), state, None, iter(obj.items())
        return NotImplemented


def _live_backends() -> dict[str, BackendDict[Any]]:
    """``module:attribute`` -> each non-empty ``BackendDict`` of the moto modules loaded."""
    found: dict[str, BackendDict[Any]] = {}
    seen: set[int] = set()
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("moto.") or module_name.startswith(_SKIPPED_PREFIX):
            continue
        for attribute, value in sorted(vars(module).items()):
            if isinstance(value, BackendDict) and id(value) not in seen and len(value):
                seen.add(id(value))
                found[f"{module_name}:{attribute}"] = value
    return found


def save(path: Path) -> None:
    """Write the emulator's state to ``path`` (atomically: a partial file never exists)."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as file:
            _Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(
                {"format": FORMAT, "backends": dict(_live_backends())}
            )
    except (pickle.PicklingError, TypeError, AttributeError, EmulatorStateError) as error:
        partial.unlink(missing_ok=True)
        raise EmulatorStateError(f"cannot save the emulator's state: {error}") from error
    partial.replace(path)


def reset() -> None:
    """Empty every backend, as a fresh emulator is (moto's own reset)."""
    BackendDict.reset()
    reset_model_data()


def load(path: Path) -> None:
    """Replace the emulator's state with what ``path`` holds. Raises
    ``EmulatorStateError`` when the file is unreadable, of another format or names a
    backend this moto has not; then nothing has been changed."""
    try:
        with path.open("rb") as file:
            saved = pickle.load(file)  # noqa: S301 (a file this machine wrote, under .wspush/)
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise EmulatorStateError(f"{path} is of another format")
        targets: list[tuple[BackendDict[Any], BackendDict[Any]]] = []
        for key, backend in saved["backends"].items():
            module_name, attribute = key.split(":")
            live = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(live, BackendDict) or not isinstance(backend, BackendDict):
                raise EmulatorStateError(f"{path} names {key}, which is no moto backend")
            targets.append((live, backend))
    except EmulatorStateError:
        raise
    except Exception as error:  # any unreadable file: a truncated pickle, a moved class...
        raise EmulatorStateError(f"cannot load {path}: {error!r}") from error
    for live, backend in targets:
        live.clear()
        live.update(backend)
