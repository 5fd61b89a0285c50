"""Hash-sharing exchanges: a protocol + registry like `signals/`.

Importing this package registers the built-in kinds; each lives in its own module below and
calls `register` on import. Add a kind by adding its module name to `_KIND_MODULES`.
"""

from importlib import import_module

from takedown.exchanges.base import (
    REGISTRY,
    ExchangeAuthError,
    ExchangeClient,
    ExchangeError,
    ExchangeKind,
    ExchangeSettings,
    ExchangeUnavailable,
    FeedEntry,
    FeedPage,
    ShareBack,
    SharedEntry,
    ShareResult,
    all_kinds,
    kind_named,
    register,
)

_KIND_MODULES: list[str] = [
    "takedown.exchanges.hash_list",
    "takedown.exchanges.takedown_feed",
    "takedown.exchanges.ncmec",
    "takedown.exchanges.stopncii",
    "takedown.exchanges.threatexchange",
]

for _module in _KIND_MODULES:
    import_module(_module)

__all__ = [
    "REGISTRY",
    "ExchangeAuthError",
    "ExchangeClient",
    "ExchangeError",
    "ExchangeKind",
    "ExchangeSettings",
    "ExchangeUnavailable",
    "FeedEntry",
    "FeedPage",
    "ShareBack",
    "ShareResult",
    "SharedEntry",
    "all_kinds",
    "kind_named",
    "register",
]
