"""A local stand-in for NCMEC's ESP reporting service, following its published protocol: Basic
auth, /submit /upload /fileinfo /finish /retract /status, response codes, element order and
required fields of the report, finish rules. The real client runs against it over HTTP."""

from __future__ import annotations

import base64
import itertools
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from tests.http_servers import QuietHandler, serving

ORDER = ["incidentSummary", "internetDetails", "reporter", "personOrUserReported"]


@dataclass
class Filed:
    report: bytes
    files: dict[str, bytes] = field(default_factory=dict)
    details: dict[str, bytes] = field(default_factory=dict)
    finished: bool = False
    retracted: bool = False


@dataclass
class FakeNcmec:
    username: str = "esp-user"
    password: str = "esp-password"
    reports: dict[str, Filed] = field(default_factory=dict)
    fail_next: int = 0  # answer 1000 this many times (a server error)
    calls: list[str] = field(default_factory=list)
    url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _answer(self, code: int, description: str, **ids: str) -> bytes:
        root = ET.Element("reportResponse")
        ET.SubElement(root, "responseCode").text = str(code)
        ET.SubElement(root, "responseDescription").text = description
        for name, value in ids.items():
            ET.SubElement(root, name).text = value
        body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        return body

    def _validate(self, body: bytes) -> str | None:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return "not XML"
        if root.tag != "report":
            return "root must be report"
        tags = [child.tag for child in root]
        positions = [ORDER.index(t) if t in ORDER else -1 for t in tags]
        if -1 in positions or positions != sorted(positions):
            return f"elements out of schema order: {tags}"
        incident = root.findtext("incidentSummary/incidentType")
        when = root.findtext("incidentSummary/incidentDateTime")
        if not incident or not when:
            return "incidentType and incidentDateTime are required"
        if datetime.fromisoformat(when.replace("Z", "+00:00")) > datetime.now(UTC):
            return "incidentDateTime is in the future"
        if not root.findtext("reporter/reportingPerson/email"):
            return "reporter email is required"
        if not root.findall("internetDetails/webPageIncident/url"):
            return "a web page incident needs a URL"
        return None

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> bytes:
        self.calls.append(path)
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return self._answer(2000, "authentication failed")
        if self.fail_next:
            self.fail_next -= 1
            return self._answer(1000, "server error")
        if path == "/status":
            return self._answer(0, "Remote user: " + self.username)
        if path == "/submit":
            problem = self._validate(body)
            if problem:
                return self._answer(4100, problem)
            report_id = str(next(self._ids))
            self.reports[report_id] = Filed(body)
            return self._answer(0, "Success", reportId=report_id)
        if path == "/upload":
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {headers.get('Content-Type')}\r\n\r\n".encode() + body
            )
            parts = {
                p.get_param("name", header="content-disposition"): p for p in message.iter_parts()
            }
            report_id = parts["id"].get_content().strip() if "id" in parts else ""
            filed = self.reports.get(report_id)
            if filed is None:
                return self._answer(5001, "no such report")
            if filed.finished:
                return self._answer(5102, "report already finished")
            file_id = f"f{len(filed.files) + 1}"
            filed.files[file_id] = parts["file"].get_payload(decode=True)
            return self._answer(0, "Success", reportId=report_id, fileId=file_id)
        if path == "/fileinfo":
            root = ET.fromstring(body)
            report_id, file_id = root.findtext("reportId") or "", root.findtext("fileId") or ""
            filed = self.reports.get(report_id)
            if filed is None:
                return self._answer(5001, "no such report")
            if file_id not in filed.files or root.findtext("fileViewedByEsp") is None:
                return self._answer(4100, "unknown fileId or missing fileViewedByEsp")
            filed.details[file_id] = body
            return self._answer(0, "Success", reportId=report_id)
        if path in ("/finish", "/retract"):
            report_id = parse_qs(body.decode()).get("id", [""])[0]
            filed = self.reports.get(report_id)
            if filed is None or filed.retracted:
                return self._answer(5001, "no such report")
            if filed.finished:
                return self._answer(5102, "report already finished")
            if path == "/finish":
                filed.finished = True
            else:
                filed.retracted = True
            return self._answer(0, "Success", reportId=report_id)
        return self._answer(4100, f"unknown endpoint {path}")

    def forget(self, report_id: str) -> None:
        """NCMEC deletes an unfinished report after about a day."""
        self.reports.pop(report_id, None)

    @contextmanager
    def running(self) -> Iterator[FakeNcmec]:
        fake = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0].removeprefix("/ispws")
                with fake._lock:
                    answer = fake.handle(self.command, path, self.headers, body)
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = _serve
            do_POST = _serve

        with serving(Handler) as base:
            self.url = base + "/ispws"
            yield self
