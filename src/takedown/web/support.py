"""Where a person can get help beyond this report: the national services every reporter is
shown (NCMEC, the Cyber Civil Rights Initiative, Take It Down) and the operator's local
helplines (``helplines`` in the settings)."""

from __future__ import annotations

from dataclasses import dataclass

from takedown.config import Settings
from takedown.web.templating import N_


@dataclass(frozen=True)
class SupportLink:
    name: str
    """Shown as is (an operator's helpline is named in its own language)."""
    description: str
    """An English source string, translated on the page; empty for a configured helpline."""
    url: str = ""
    phone: str = ""
    local: bool = False
    """An operator's helpline: its words are shown as configured, not translated."""


NATIONAL = (
    SupportLink(
        "Take It Down (NCMEC)",
        N_(
            "Helps remove nude or sexual images taken of you before you were 18, without "
            "sending the images to anyone."
        ),
        "https://takeitdown.ncmec.org/",
    ),
    SupportLink(
        "NCMEC CyberTipline",
        N_(
            "Report the sexual exploitation of a child to the US National Center for Missing "
            "and Exploited Children; it works with police worldwide."
        ),
        "https://report.cybertip.org/",
        "1-800-843-5678",
    ),
    SupportLink(
        "Cyber Civil Rights Initiative",
        N_(
            "Free, confidential support for adults whose intimate images were shared without "
            "consent (24-hour helpline in the US)."
        ),
        "https://cybercivilrights.org/ccri-safety-center/",
        "844-878-2274",
    ),
)


def support_links(settings: Settings) -> tuple[SupportLink, ...]:
    local = tuple(
        SupportLink(h.name, h.description, h.url, h.phone, local=True) for h in settings.helplines
    )
    return local + NATIONAL
