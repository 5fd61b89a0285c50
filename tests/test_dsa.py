"""Statements of reasons to the DSA Transparency Database, against a local server that checks
the API's rules: every removal decision sent once, without personal data; batches of <= 100;
a refused statement is marked and the rest go through."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from takedown.cases.policy import load_policy
from takedown.cases.vocabulary import Category
from takedown.legal.dsa import statement_for
from takedown.legal.dsa_client import DsaClient, DsaConfig, DsaRejected
from takedown.service.dsa import send_pending
from tests.dsa_server import FakeDsa
from tests.service_support import Service


def _statement(puid: str, category: Category = Category.CHILD_SEXUAL_ABUSE) -> object:
    return statement_for(
        puid=puid,
        category=category,
        content_kind="video",
        content_date=date(2026, 11, 20),
        application_date=date(2026, 11, 25),
        facts="Confirmed by two reviewers.",
        source_type="SOURCE_ARTICLE_16",
        automated_detection=True,
        account_suspended=True,
    )


def test_client_batches_and_all_or_nothing() -> None:
    with FakeDsa().running() as fake:
        client = DsaClient(DsaConfig(fake.url, fake.token))
        statements = [_statement(f"p-{i}") for i in range(150)]
        assert client.send(statements) == 150  # type: ignore[arg-type]
        assert fake.batches == [100, 50]
        csam = fake.stored[0]
        assert csam["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
        assert csam["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
        assert csam["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
        bad = replace(_statement("bad"), category="NOT_A_CATEGORY")  # type: ignore[type-var]
        with pytest.raises(DsaRejected) as refused:
            client.send([_statement("ok-1"), bad])  # type: ignore[list-item]
        assert list(refused.value.errors) == [1]
        assert len(fake.stored) == 150  # nothing of the refused batch was kept
        wrong = DsaClient(DsaConfig(fake.url, "wrong"))
        with pytest.raises(DsaRejected) as unauthenticated:
            wrong.send([_statement("x")])  # type: ignore[list-item]
        assert unauthenticated.value.status == 401


def test_removal_decisions_are_sent_once_without_personal_data(service: Service) -> None:
    service.post(
        "/v1/content",
        json={
            "content_id": "post-7",
            "uploader_id": "uploader-secret-99",
            "signals": [{"type": "md5", "value": "d" * 32}],
        },
    )
    report = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "post-7"}],
            "category": "non_consensual_intimate_image",
            "minor_depicted": "no",
            "relationship": "self",
            "contact": {"email": "victim@example.org"},
            "good_faith_statement": True,
            "signature": "Jane Roe",
        },
    ).json()
    reviewer = service.staff("reviewer")
    service.as_(
        reviewer, "POST", f"/v1/cases/{report['case_id']}/decisions", json={"outcome": "violation"}
    )
    with FakeDsa().running() as fake:
        client = DsaClient(DsaConfig(fake.url, fake.token))
        now = datetime.now(UTC)
        assert send_pending(service.db, client, load_policy(), now) == 1
        assert send_pending(service.db, client, load_policy(), now) == 0  # once
        sent = fake.stored[0]
        assert sent["category"] == "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR"
        assert sent["source_type"] == "SOURCE_ARTICLE_16"
        assert sent["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
        text = json.dumps(sent)
        for personal in ("uploader-secret-99", "victim@example.org", "Jane Roe"):
            assert personal not in text
