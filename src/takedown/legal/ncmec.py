"""A client for NCMEC's ESP reporting service (the CyberTipline API).

HTTP Basic auth; ``POST /submit`` (report XML -> reportId), ``POST /upload`` (multipart file
with ``id``), ``POST /fileinfo`` (file details XML), ``POST /finish``, ``POST /retract`` (before
finish), ``GET /status``. Every answer carries a response code; anything but 0 becomes a
:class:`NcmecError` naming it. Server errors (1000) and connection failures are retried with
back-off; ``submit`` is retried only when the request cannot have reached NCMEC (a refused
connection, or a 1000 answer), so a retry never files a second report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from takedown.legal.cybertip import RESPONSE_CODES, TipResponse, parse_response

TEST_URL = "https://exttest.cybertip.org/ispws"
PRODUCTION_URL = "https://report.cybertip.org/ispws"


class NcmecError(Exception):
    def __init__(self, code: int, description: str) -> None:
        meaning = RESPONSE_CODES.get(code, "unknown code")
        super().__init__(f"CyberTipline answered {code} ({meaning}): {description}")
        self.code = code
        self.description = description


@dataclass(frozen=True)
class NcmecConfig:
    base_url: str
    username: str
    password: str
    timeout_s: float = 30.0
    retries: int = 4
    backoff_s: float = 0.5


class NcmecClient:
    def __init__(self, config: NcmecConfig, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: object) -> TipResponse:
        url = self.config.base_url.rstrip("/") + path
        auth = (self.config.username, self.config.password)
        for attempt in range(self.config.retries + 1):
            try:
                response = self._http.request(method, url, auth=auth, **kwargs)  # type: ignore[arg-type]
            except httpx.ConnectError:
                if attempt == self.config.retries:
                    raise
            except httpx.TransportError:
                if not idempotent or attempt == self.config.retries:
                    raise
            else:
                if response.status_code == 401:
                    raise NcmecError(2000, "credentials refused")
                answer = parse_response(response.content)
                if answer.code == 0:
                    return answer
                if answer.code != 1000 or attempt == self.config.retries:
                    raise NcmecError(answer.code, answer.description)
            time.sleep(self.config.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def status(self) -> TipResponse:
        return self._call("GET", "/status", idempotent=True)

    def submit(self, report_xml: bytes) -> str:
        answer = self._call(
            "POST",
            "/submit",
            idempotent=False,
            content=report_xml,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        return answer.report_id

    def upload(self, report_id: str, file_name: str, data: bytes) -> str:
        answer = self._call(
            "POST",
            "/upload",
            idempotent=True,
            data={"id": report_id},
            files={"file": (file_name, data, "application/octet-stream")},
        )
        return answer.file_id

    def file_info(self, details_xml: bytes) -> None:
        self._call(
            "POST",
            "/fileinfo",
            idempotent=True,
            content=details_xml,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )

    def finish(self, report_id: str) -> None:
        self._call("POST", "/finish", idempotent=True, data={"id": report_id})

    def retract(self, report_id: str) -> None:
        self._call("POST", "/retract", idempotent=True, data={"id": report_id})
