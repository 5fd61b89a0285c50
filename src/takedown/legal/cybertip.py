"""CyberTipline report documents (18 U.S.C. 2258A): the report XML in the schema's element
order, the file details, and the service's response format. Pure: no network, no storage."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

CSAM_INCIDENT = "Child Pornography (possession, manufacture, and distribution)"

RESPONSE_CODES = {
    0: "ok",
    1000: "server error",
    2000: "authentication failed",
    3100: "not authorised",
    4100: "validation failed",
    5001: "no such report",
    5102: "report already finished",
}


@dataclass(frozen=True)
class IpEvent:
    ip_address: str
    event_name: str  # Upload, Login, Registration, Purchase, Other, Unknown
    at: datetime


@dataclass(frozen=True)
class ReportedUser:
    esp_identifier: str
    screen_name: str = ""
    profile_url: str = ""
    ip_events: tuple[IpEvent, ...] = ()


@dataclass(frozen=True)
class ReporterContact:
    company: str
    first_name: str
    last_name: str
    email: str
    phone: str = ""


@dataclass(frozen=True)
class TipFile:
    original_file_name: str
    viewed_by_esp: bool
    publicly_available: bool
    hashes: Mapping[str, str] = field(default_factory=dict)  # MD5, SHA256, PDQ...


@dataclass(frozen=True)
class TipReport:
    incident_type: str
    incident_at: datetime
    urls: tuple[str, ...]
    reporter: ReporterContact
    reported: tuple[ReportedUser, ...] = ()


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = value
    return child


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def report_xml(report: TipReport, now: datetime) -> bytes:
    """The ``<report>`` document: incidentSummary, internetDetails, reporter,
    personOrUserReported, in that order. Raises ValueError for what NCMEC would refuse."""
    if report.incident_at > now:
        raise ValueError("incidentDateTime is in the future")
    if not report.urls:
        raise ValueError("a web page incident needs at least one URL")
    root = ET.Element("report")
    summary = ET.SubElement(root, "incidentSummary")
    _text(summary, "incidentType", report.incident_type)
    _text(summary, "incidentDateTime", _when(report.incident_at))
    web = ET.SubElement(ET.SubElement(root, "internetDetails"), "webPageIncident")
    for url in report.urls:
        _text(web, "url", url)
    reporter = ET.SubElement(root, "reporter")
    person = ET.SubElement(reporter, "reportingPerson")
    _text(person, "firstName", report.reporter.first_name)
    _text(person, "lastName", report.reporter.last_name)
    if report.reporter.phone:
        _text(person, "phone", report.reporter.phone)
    _text(person, "email", report.reporter.email)
    _text(reporter, "companyTemplate", report.reporter.company)
    for user in report.reported:
        reported = ET.SubElement(root, "personOrUserReported")
        _text(reported, "espIdentifier", user.esp_identifier)
        if user.screen_name:
            _text(reported, "screenName", user.screen_name)
        if user.profile_url:
            _text(reported, "profileUrl", user.profile_url)
        for event in user.ip_events:
            capture = ET.SubElement(reported, "ipCaptureEvent")
            _text(capture, "ipAddress", event.ip_address)
            _text(capture, "eventName", event.event_name)
            _text(capture, "dateTime", _when(event.at))
    return _document(root)


def file_details_xml(report_id: str, file_id: str, tip_file: TipFile) -> bytes:
    root = ET.Element("fileDetails")
    _text(root, "reportId", report_id)
    _text(root, "fileId", file_id)
    _text(root, "originalFileName", tip_file.original_file_name)
    _text(root, "fileViewedByEsp", "true" if tip_file.viewed_by_esp else "false")
    _text(root, "publiclyAvailable", "true" if tip_file.publicly_available else "false")
    if tip_file.hashes:
        details = ET.SubElement(root, "details", {"type": "HASH"})
        for name, value in tip_file.hashes.items():
            pair = ET.SubElement(details, "nameValuePair")
            _text(pair, "name", name)
            _text(pair, "value", value)
    return _document(root)


@dataclass(frozen=True)
class TipResponse:
    code: int
    description: str
    report_id: str = ""
    file_id: str = ""


def parse_response(body: bytes) -> TipResponse:
    """``<reportResponse>`` with responseCode, responseDescription, reportId, fileId."""
    try:
        root = ET.fromstring(body)  # noqa: S314 (a configured, authenticated peer)
    except ET.ParseError as exc:
        raise ValueError(f"unreadable CyberTipline response: {exc}") from None

    def find(tag: str) -> str:
        node = root.find(f".//{tag}")
        return (node.text or "").strip() if node is not None else ""

    code = find("responseCode")
    if not code.isdigit():
        raise ValueError("CyberTipline response without a responseCode")
    return TipResponse(int(code), find("responseDescription"), find("reportId"), find("fileId"))


def element_order(body: bytes) -> Sequence[str]:
    """The top-level element names of a report document (what a receiver checks)."""
    return [child.tag for child in ET.fromstring(body)]  # noqa: S314
