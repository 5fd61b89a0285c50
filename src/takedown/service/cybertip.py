"""CyberTipline reports: drafted when a child-sexual-abuse case is confirmed (with a 24 h
clock), approved by legal staff, then filed with NCMEC through the ESP client.

Filing is resumable: each step is committed as it completes (the NCMEC report id right after
submit, each file after its details), so a crash or an error resumes where it stopped and
never submits twice. An unfinished report that NCMEC deleted (about a day later; answer 5001)
restarts cleanly with a new submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.log import SYSTEM, record
from takedown.cases.clocks import ClockKind
from takedown.cases.policy import Policy
from takedown.legal.cybertip import (
    CSAM_INCIDENT,
    IpEvent,
    ReportedUser,
    ReporterContact,
    TipFile,
    TipReport,
    file_details_xml,
    report_xml,
)
from takedown.legal.evidence import EvidenceStore
from takedown.legal.ncmec import NcmecClient, NcmecError
from takedown.store.db import Database
from takedown.store.models import (
    Case,
    CaseClock,
    CaseContent,
    Content,
    ContentSignal,
    CyberTipReport,
)

EXACT = ("md5", "sha256")


NEEDED_SETTINGS = ("ncmec_username", "ncmec_password", "reporter_email")
"""What filing needs configured (the NCMEC ESP account, and whom NCMEC may contact)."""


def missing_settings(settings: object) -> list[str]:
    """The settings filing needs that are empty (``TAKEDOWN_`` + the name, upper case)."""
    return [name for name in NEEDED_SETTINGS if not getattr(settings, name, "")]


def attempts(session: Session, case_ids: list[int]) -> dict[int, list[Content]]:
    """The items of each case, first first: for a blocked upload's draft, each attempt (the
    same material re-uploaded by the same person joins the first attempt's draft)."""
    found: dict[int, list[Content]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return found
    rows = session.execute(
        select(CaseContent.case_id, Content)
        .join(Content, Content.id == CaseContent.content_pk)
        .where(CaseContent.case_id.in_(case_ids), CaseContent.role == "reported")
        .order_by(CaseContent.added_at, CaseContent.id)
    ).all()
    for case_id, content in rows:
        found[case_id].append(content)
    return found


class TipRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def open_draft(session: Session, case: Case, policy: Policy, now: datetime) -> CyberTipReport:
    """A draft for a confirmed child-sexual-abuse case, and its filing clock."""
    existing = session.execute(
        select(CyberTipReport).where(CyberTipReport.case_id == case.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    draft = CyberTipReport(case_id=case.id, created_at=now)
    session.add(draft)
    session.add(
        CaseClock(
            case_id=case.id,
            kind=ClockKind.CYBERTIP.value,
            started_at=now,
            due_at=now + timedelta(seconds=policy.cybertip_s),
        )
    )
    session.flush()
    record(session, SYSTEM, "cybertip.draft", f"case:{case.id}", {"report": draft.id})
    return draft


def approve(session: Session, tip_id: int, user_id: int, now: datetime) -> CyberTipReport:
    tip = session.get(CyberTipReport, tip_id)
    if tip is None:
        raise TipRefused("report_not_found", f"no CyberTipline report {tip_id}")
    if tip.state != "draft":
        raise TipRefused("not_a_draft", f"the report is {tip.state}, not a draft")
    tip.state = "approved"
    tip.approved_by = user_id
    tip.approved_at = now
    record(session, f"user:{user_id}", "cybertip.approve", f"case:{tip.case_id}", {})
    return tip


@dataclass(frozen=True)
class ReporterSettings:
    contact: ReporterContact
    preservation: timedelta


def _document(
    session: Session,
    tip: CyberTipReport,
    reporter: ReporterSettings,
    evidence: EvidenceStore,
    now: datetime,
) -> bytes:
    items = list(
        session.execute(
            select(Content)
            .join(CaseContent, CaseContent.content_pk == Content.id)
            .where(CaseContent.case_id == tip.case_id)
        ).scalars()
    )
    first_seen = min((c.posted_at or c.registered_at for c in items), default=now)
    uploaders = sorted({c.uploader_id for c in items if c.uploader_id})
    events = {u: _ip_events(evidence, [c for c in items if c.uploader_id == u]) for u in uploaders}
    report = TipReport(
        incident_type=CSAM_INCIDENT,
        incident_at=min(first_seen, now),
        urls=tuple(c.url for c in items if c.url),
        reporter=reporter.contact,
        reported=tuple(ReportedUser(esp_identifier=u, ip_events=events[u]) for u in uploaders),
    )
    return report_xml(report, now)


def _ip_events(evidence: EvidenceStore, items: list[Content]) -> tuple[IpEvent, ...]:
    """The uploader's IP events kept with the items' sealed evidence (never anywhere else)."""
    found: dict[tuple[str, str, str], IpEvent] = {}
    for content in items:
        metadata = evidence.vault.metadata(content.content_id) or {}
        for event in metadata.get("ip_events", []):
            at = datetime.fromisoformat(str(event["at"]))
            key = (str(event["ip_address"]), str(event["event_name"]), at.isoformat())
            found[key] = IpEvent(key[0], key[1], at)
    return tuple(sorted(found.values(), key=lambda e: e.at))


def _files(session: Session, tip: CyberTipReport) -> list[tuple[Content, dict[str, str]]]:
    items = list(
        session.execute(
            select(Content)
            .join(CaseContent, CaseContent.content_pk == Content.id)
            .where(CaseContent.case_id == tip.case_id, CaseContent.role == "reported")
        ).scalars()
    )
    out = []
    for content in items:
        hashes = {
            t.upper(): v
            for t, v in session.execute(
                select(ContentSignal.signal_type, ContentSignal.value).where(
                    ContentSignal.content_pk == content.id,
                    ContentSignal.signal_type.in_(EXACT),
                )
            ).all()
        }
        out.append((content, hashes))
    return out


def file_report(
    db: Database,
    client: NcmecClient,
    evidence: EvidenceStore,
    reporter: ReporterSettings,
    tip_id: int,
    now: datetime,
) -> CyberTipReport:
    """Submit, upload every reported item kept as evidence, describe it, finish."""
    with db.read() as session:
        tip = session.get(CyberTipReport, tip_id)
        if tip is None:
            raise TipRefused("report_not_found", f"no CyberTipline report {tip_id}")
        if tip.state == "finished":
            return tip
        if tip.state not in ("approved", "submitted", "failed"):
            raise TipRefused("not_approved", "a legal reviewer must approve the report first")
    try:
        return _file(db, client, evidence, reporter, tip_id, now)
    except NcmecError as error:
        if error.code == 5001:  # NCMEC dropped the unfinished report: start again
            with db.write() as session:
                tip = session.get(CyberTipReport, tip_id)
                assert tip is not None
                record(
                    session,
                    SYSTEM,
                    "cybertip.restart",
                    f"case:{tip.case_id}",
                    {"dropped": tip.ncmec_report_id},
                )
                tip.ncmec_report_id = None
                tip.files = {}
                tip.state = "approved"
            return _file(db, client, evidence, reporter, tip_id, now)
        with db.write() as session:
            tip = session.get(CyberTipReport, tip_id)
            assert tip is not None
            tip.state = "failed"
            tip.last_error = str(error)
        raise


def _file(
    db: Database,
    client: NcmecClient,
    evidence: EvidenceStore,
    reporter: ReporterSettings,
    tip_id: int,
    now: datetime,
) -> CyberTipReport:
    with db.write() as session:
        tip = session.get(CyberTipReport, tip_id)
        assert tip is not None
        if tip.ncmec_report_id is None:
            document = _document(session, tip, reporter, evidence, now)
            tip.ncmec_report_id = client.submit(document)
            tip.state = "submitted"
            tip.submitted_at = now
            record(
                session,
                SYSTEM,
                "cybertip.submit",
                f"case:{tip.case_id}",
                {"ncmec_report_id": tip.ncmec_report_id},
            )
        report_id = tip.ncmec_report_id
        files = _files(session, tip)
    for content, hashes in files:
        with db.read() as session:
            tip = session.get(CyberTipReport, tip_id)
            assert tip is not None
            done = dict(tip.files)
        if content.content_id in done:
            continue
        data = evidence.get(content.content_id)
        if data is None:
            continue  # nothing kept for this item: the report names it by URL and hash
        file_id = client.upload(report_id, content.content_id, data)
        client.file_info(
            file_details_xml(
                report_id,
                file_id,
                TipFile(content.content_id, True, True, hashes),
            )
        )
        with db.write() as session:
            tip = session.get(CyberTipReport, tip_id)
            assert tip is not None
            tip.files = {**tip.files, content.content_id: file_id}
    try:
        client.finish(report_id)
    except NcmecError as error:
        if error.code != 5102:  # already finished: a resumed run after a lost answer
            raise
    with db.write() as session:
        tip = session.get(CyberTipReport, tip_id)
        assert tip is not None
        tip.state = "finished"
        tip.finished_at = now
        tip.last_error = ""
        for clock in session.execute(
            select(CaseClock).where(
                CaseClock.case_id == tip.case_id,
                CaseClock.kind == ClockKind.CYBERTIP.value,
                CaseClock.met_at.is_(None),
            )
        ).scalars():
            clock.met_at = now
        for content_id in tip.files:
            evidence.vault.preserve_until(content_id, now + reporter.preservation)
        record(
            session,
            SYSTEM,
            "cybertip.finish",
            f"case:{tip.case_id}",
            {"ncmec_report_id": report_id, "files": len(tip.files)},
        )
        session.flush()
        session.expunge(tip)
        return tip
