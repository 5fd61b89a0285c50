"""The action vocabulary shared with platforms (a contract: extend, never rename)."""

from __future__ import annotations

from enum import StrEnum


class ActionKind(StrEnum):
    RESTRICT = "restrict"
    REMOVE = "remove"
    RESTORE = "restore"
    BLOCK_HASH = "block_hash"
    NOTIFY = "notify"
    SUSPEND_ACCOUNT = "suspend_account"
