"""Human words for the stored values staff read (``child_sexual_abuse``, ``first_review``...):
one table, used by the console pages, the charts and the transparency report alike, so that a
published figure and the screen say the same thing."""

from __future__ import annotations

LABELS: dict[str, str] = {
    # categories
    "child_sexual_abuse": "Child sexual abuse",
    "non_consensual_intimate_image": "Non-consensual intimate image",
    "sexual_exploitation_or_trafficking": "Sexual exploitation or trafficking",
    "other": "Other",
    # who reported
    "self": "The person shown",
    "parent_or_guardian": "Parent or guardian",
    "authorised_representative": "Authorised representative",
    "ngo": "NGO",
    "law_enforcement": "Law enforcement",
    "other_user": "Another user",
    "trusted_flagger": "Trusted flagger",
    "trusted flagger": "Trusted flagger",
    # case states
    "new": "New",
    "restricted": "Restricted",
    "in_review": "In review",
    "second_review": "Second review",
    "awaiting_info": "Awaiting information",
    "escalated": "Escalated",
    "confirmed": "Confirmed",
    "actioned": "Actioned",
    "dismissed": "Dismissed",
    "in_appeal": "In appeal",
    # outcomes
    "violation": "Violation",
    "no_violation": "No violation",
    "need_more_info": "More information asked",
    "escalate": "Escalated",
    "upheld": "Upheld",
    "overturned": "Overturned",
    # clocks
    "restrict": "Time to restrict",
    "first_review": "Time to first review",
    "removal": "Time to removal",
    "cybertip": "Time to CyberTipline report",
    # upload verdicts
    "allow": "Allowed",
    "block": "Blocked",
    "hold": "Held for review",
    "review": "Sent to review",
}


def label(value: object) -> str:
    """The human words for a stored value; an unknown value reads with spaces, capitalised."""
    text = str(value)
    known = LABELS.get(text)
    if known is not None:
        return known
    spaced = text.replace("_", " ").strip()
    return spaced[:1].upper() + spaced[1:]
