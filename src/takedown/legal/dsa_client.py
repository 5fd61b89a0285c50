"""A client for the DSA Transparency Database API: ``POST /api/v1/statements`` with a bearer
token, batches of at most 100, all-or-nothing; a 422 answer lists errors per statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from takedown.legal.dsa import DsaStatement

BATCH = 100


class DsaRejected(Exception):
    """The database refused a batch; ``errors`` maps a statement's index to its problems."""

    def __init__(self, status: int, errors: dict[int, Any]) -> None:
        super().__init__(f"the Transparency Database refused the batch ({status}): {errors}")
        self.status = status
        self.errors = errors


@dataclass(frozen=True)
class DsaConfig:
    base_url: str
    token: str
    timeout_s: float = 30.0


class DsaClient:
    def __init__(self, config: DsaConfig, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s)

    def close(self) -> None:
        self._http.close()

    def send(self, statements: Sequence[DsaStatement]) -> int:
        """Send in batches of <= 100; returns how many were accepted. A refused batch raises
        :class:`DsaRejected` (earlier batches stay accepted; the caller marks them sent)."""
        sent = 0
        for start in range(0, len(statements), BATCH):
            batch = statements[start : start + BATCH]
            response = self._http.post(
                self.config.base_url.rstrip("/") + "/api/v1/statements",
                json={"statements": [s.to_json() for s in batch]},
                headers={
                    "Authorization": f"Bearer {self.config.token}",
                    "Accept": "application/json",
                },
            )
            if response.status_code == 422:
                body = response.json()
                errors = {int(k): v for k, v in body.get("errors", {}).items()}
                raise DsaRejected(422, errors)
            if response.status_code >= 300:
                raise DsaRejected(response.status_code, {})
            sent += len(batch)
        return sent
