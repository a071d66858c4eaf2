"""What every patch shares: the originals it replaced (so the canaries hash moto's own code and
``suspended`` can put it back) and which patches are applied.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

LOCK = threading.RLock()
_ORIGINALS: dict[tuple[int, str], tuple[Any, str, Any]] = {}
_APPLIED: set[str] = set()
_PATCH_KEYS: dict[str, list[tuple[int, str]]] = {}
_CURRENT_PATCH: list[str] = []


def replace(owner: Any, name: str, new: Any) -> Any:
    """Set ``owner.name = new`` and return the original (remembered on the first call only)."""
    key = (id(owner), name)
    with LOCK:
        if key not in _ORIGINALS:
            _ORIGINALS[key] = (owner, name, _lookup(owner, name))
        if _CURRENT_PATCH:
            _PATCH_KEYS.setdefault(_CURRENT_PATCH[-1], []).append(key)
        setattr(owner, name, new)
        return _ORIGINALS[key][2]


def original(owner: Any, name: str) -> Any:
    """The unpatched attribute ``owner.name`` (the current one when it was never patched)."""
    key = (id(owner), name)
    if key in _ORIGINALS:
        return _ORIGINALS[key][2]
    return _lookup(owner, name)


def _lookup(owner: Any, name: str) -> Any:
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in klass.__dict__:
                return klass.__dict__[name]
    return getattr(owner, name)


def _func(obj: Any) -> Any:
    return obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj


def source_sha256(owner: Any, name: str) -> str:
    """SHA-256 of the source of the *original* ``owner.name`` (what the canaries compare)."""
    src = inspect.getsource(_func(original(owner, name)))
    return hashlib.sha256(src.encode("utf-8")).hexdigest()


def apply_once(patch_id: str, patch: Callable[[], None]) -> None:
    """Run ``patch`` unless it ran already, recording what it replaces under ``patch_id``."""
    with LOCK:
        if patch_id not in _APPLIED:
            _CURRENT_PATCH.append(patch_id)
            try:
                patch()
            finally:
                _CURRENT_PATCH.pop()
            _APPLIED.add(patch_id)


def applied() -> frozenset[str]:
    """Ids of the patches applied so far."""
    return frozenset(_APPLIED)


@contextlib.contextmanager
def suspended(*patch_ids: str) -> Iterator[None]:
    """Temporarily put moto's original code back for some patches (canaries compare behaviours)."""
    with LOCK:
        saved: list[tuple[Any, str, Any]] = []
        for patch_id in patch_ids:
            for key in _PATCH_KEYS.get(patch_id, []):
                owner, name, orig = _ORIGINALS[key]
                saved.append(
                    (
                        owner,
                        name,
                        _lookup(owner, name) if not isinstance(owner, type) else owner.__dict__[name],
                    )
                )
                setattr(owner, name, orig)
    try:
        yield
    finally:
        with LOCK:
            for owner, name, patched in saved:
                setattr(owner, name, patched)
