"""API keys: who may call the REST API.

Keys come from ``api.keys_sha256`` in the config (SHA-256 hex digests, so the
file holds no secret) and from ``$AGORA_API_KEYS`` (plain keys, comma-separated,
hashed at start and then forgotten). A request carries its key in the
``X-API-Key`` header or as ``Authorization: Bearer KEY``. The presented key is
hashed and compared with every stored hash in constant time
(:func:`hmac.compare_digest`), so timing tells nothing about which key or
which prefix matched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agora.config import Config

__all__ = ["KeyRing", "load_keys", "hash_key", "require_key", "ENV_KEYS"]

ENV_KEYS = "AGORA_API_KEYS"

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An Agora API key.")
_bearer = HTTPBearer(auto_error=False, description="An Agora API key as a bearer token.")


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored for ``key``.

    >>> hash_key("demo")[:16]
    '2a97516c354b6884'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyRing:
    """The accepted key hashes."""

    hashes: tuple[str, ...]

    def accepts(self, key: str | None) -> bool:
        """True when ``key`` hashes to one of the stored hashes (constant time per hash).

        >>> KeyRing((hash_key("a"),)).accepts("a"), KeyRing((hash_key("a"),)).accepts("b")
        (True, False)
        """
        if not key:
            return False
        digest = hash_key(key).encode()
        ok = False
        for h in self.hashes:  # no early exit: every hash is compared
            ok |= hmac.compare_digest(digest, h.encode())
        return ok


def load_keys(config: Config, environ: Mapping[str, str] | None = None) -> KeyRing:
    """The key ring from ``config.api.keys_sha256`` and ``$AGORA_API_KEYS``."""
    environ = os.environ if environ is None else environ
    plain = [k.strip() for k in environ.get(ENV_KEYS, "").split(",") if k.strip()]
    return KeyRing(tuple(dict.fromkeys([*config.api.keys_sha256, *(hash_key(k) for k in plain)])))


def require_key(request: Request,
                header: str | None = Security(_header),
                bearer: HTTPAuthorizationCredentials | None = Security(_bearer)) -> None:
    """FastAPI dependency: 401 unless the request carries an accepted key."""
    ring: KeyRing = request.app.state.keys
    key = header or (bearer.credentials if bearer else None)
    if not ring.accepts(key):
        raise HTTPException(401, "missing or invalid API key (send X-API-Key: KEY or Authorization: Bearer KEY)",
                            headers={"WWW-Authenticate": "Bearer"})
