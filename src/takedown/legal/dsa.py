"""Statements of reasons for the EU DSA Transparency Database (art. 24(5)), schema v2 fields.

Built from a decision without personal data: no names, no uploader or reporter ids; ``puid`` is
this service's own id for the decision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from takedown.cases.vocabulary import Category

CATEGORY = {
    Category.CHILD_SEXUAL_ABUSE: (
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"],
    ),
    Category.NON_CONSENSUAL_INTIMATE_IMAGE: (
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"],
    ),
    Category.SEXUAL_EXPLOITATION_OR_TRAFFICKING: (
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        ["KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"],
    ),
    Category.OTHER: ("STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE", []),
}
LEGAL_GROUND = {
    Category.CHILD_SEXUAL_ABUSE: "Directive 2011/93/EU, art. 5",
    Category.NON_CONSENSUAL_INTIMATE_IMAGE: "Directive (EU) 2024/1385, art. 5",
    Category.SEXUAL_EXPLOITATION_OR_TRAFFICKING: "Directive 2011/36/EU",
}
SOURCES = ("SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_VOLUNTARY")
EU = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]


@dataclass(frozen=True)
class DsaStatement:
    decision_visibility: list[str]
    decision_ground: str
    category: str
    category_specification: list[str]
    content_type: list[str]
    territorial_scope: list[str]
    content_date: str
    application_date: str
    decision_facts: str
    source_type: str
    automated_detection: str
    automated_decision: str
    puid: str
    illegal_content_legal_ground: str | None = None
    illegal_content_explanation: str | None = None
    incompatible_content_ground: str | None = None
    incompatible_content_explanation: str | None = None
    decision_account: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "extra"}
        out.update(self.extra)
        return out


def statement_for(
    *,
    puid: str,
    category: Category,
    content_kind: str,
    content_date: date,
    application_date: date,
    facts: str,
    source_type: str,
    automated_detection: bool,
    account_suspended: bool,
) -> DsaStatement:
    """A removal decision's statement (the only decisions the database takes are restrictions)."""
    if source_type not in SOURCES:
        raise ValueError(f"source_type must be one of {SOURCES}")
    name, keywords = CATEGORY[category]
    illegal = category in LEGAL_GROUND
    return DsaStatement(
        decision_visibility=["DECISION_VISIBILITY_CONTENT_REMOVED"],
        decision_ground=(
            "DECISION_GROUND_ILLEGAL_CONTENT" if illegal else "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        ),
        category=name,
        category_specification=keywords,
        content_type=["CONTENT_TYPE_VIDEO" if content_kind == "video" else "CONTENT_TYPE_IMAGE"],
        territorial_scope=EU,
        content_date=content_date.isoformat(),
        application_date=application_date.isoformat(),
        decision_facts=facts[:5000],
        source_type=source_type,
        automated_detection="Yes" if automated_detection else "No",
        automated_decision="AUTOMATED_DECISION_NOT_AUTOMATED",
        puid=puid,
        illegal_content_legal_ground=LEGAL_GROUND.get(category) if illegal else None,
        illegal_content_explanation=facts[:500] if illegal else None,
        incompatible_content_ground=None if illegal else "Terms of service",
        incompatible_content_explanation=None if illegal else facts[:500],
        decision_account="DECISION_ACCOUNT_SUSPENDED" if account_suspended else None,
    )
