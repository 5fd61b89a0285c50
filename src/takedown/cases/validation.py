"""Which reports are acceptable, by law: a TAKE IT DOWN request (NCII) needs a signature,
identification of the content, a good-faith statement and a way to reach the requester; a report
of child sexual abuse may be anonymous (DSA art. 16(2)(c)). Problems name the field."""

from __future__ import annotations

import re
from dataclasses import dataclass

from takedown.cases.vocabulary import Category, MinorDepicted, Relationship

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,32}$")


@dataclass(frozen=True)
class ReportDraft:
    """A report as submitted, before it is stored."""

    category: Category
    minor_depicted: MinorDepicted
    relationship: Relationship
    content_urls: tuple[str, ...] = ()
    content_ids: tuple[str, ...] = ()
    hashes: tuple[tuple[str, str], ...] = ()
    description: str = ""
    email: str = ""
    phone: str = ""
    good_faith_statement: bool = False
    signature: str = ""

    @property
    def identifies_content(self) -> bool:
        return bool(self.content_urls or self.content_ids or self.hashes)

    @property
    def has_contact(self) -> bool:
        return bool(self.email or self.phone)

    @property
    def takedown_request(self) -> bool:
        """A valid TAKE IT DOWN Act request starts the 48-hour removal clock."""
        return (
            self.category is Category.NON_CONSENSUAL_INTIMATE_IMAGE
            and self.identifies_content
            and bool(self.signature.strip())
            and self.good_faith_statement
            and self.has_contact
        )


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


def validate(report: ReportDraft) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not report.identifies_content:
        problems.append(
            FieldProblem("content", "name the content: a link, a content id, or a hash of it")
        )
    if report.email and not _EMAIL.match(report.email):
        problems.append(FieldProblem("contact.email", "not an email address"))
    if report.phone and not _PHONE.match(report.phone):
        problems.append(FieldProblem("contact.phone", "not a phone number"))
    if report.category is Category.NON_CONSENSUAL_INTIMATE_IMAGE:
        if not report.signature.strip():
            problems.append(
                FieldProblem("signature", "a removal request needs your name as a signature")
            )
        if not report.good_faith_statement:
            problems.append(
                FieldProblem(
                    "good_faith_statement",
                    "confirm in good faith that the image was shared without consent",
                )
            )
        if not report.has_contact:
            problems.append(
                FieldProblem("contact", "a removal request needs an email or phone to reach you")
            )
    return problems
