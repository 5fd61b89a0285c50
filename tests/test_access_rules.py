"""The holes an outside test found in who may reach what (issue 13, items 3-6 and 11), each
closed with the one rule per resource in ``auth.access`` that the API and the console share."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from takedown.auth.accounts import create_user
from takedown.auth.scopes import Role, Scope
from takedown.store.models import AuditEvent
from takedown.web.templating import templates
from tests.conftest import encode, synthetic_rgb
from tests.http_servers import QuietHandler, serving
from tests.service_support import Service, make_settings

PASSWORD = "a long test password"
MD5 = "9e107d9d372bb6826bd81d3542a419d6"


def _person(service: Service, role: str) -> str:
    email = f"{role}-{uuid.uuid4().hex[:6]}@example.org"
    with service.db.write() as session:
        create_user(session, email, Role(role), PASSWORD, actor="test")
    return email


def _sign_in(service: Service, email: str) -> str:
    """Signs the test client in; returns the session's CSRF token."""
    return service.sign_in(email, PASSWORD)


def _reported_item(service: Service, content_id: str = "item-1", *, p0: bool = False) -> int:
    """A case holding ``content_id`` (general, or P0: a minor alleged), the item's bytes kept."""
    registered = service.post(
        "/v1/content",
        json={"content_id": content_id, "signals": [{"type": "md5", "value": MD5}]},
    )
    assert registered.status_code == 201, registered.text
    reported = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": content_id}],
            "category": "child_sexual_abuse" if p0 else "other",
            "minor_depicted": "yes" if p0 else "no",
            "relationship": "other_user",
        },
    )
    assert reported.status_code == 201, reported.text
    image = encode(synthetic_rgb(7, (120, 90)), "PNG")
    service.client.app.state.takedown.evidence.put(content_id, image, {})  # type: ignore[attr-defined]
    viewer, queue = ("child_safety_specialist", "child_safety") if p0 else ("reviewer", "general")
    cases = service.as_(service.staff(viewer), "GET", f"/v1/cases?queue={queue}").json()
    return int(cases[0]["case_id"])


def _events(service: Service, action: str) -> list[AuditEvent]:
    from sqlalchemy import select

    with service.db.read() as session:
        return list(
            session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()
        )


def _bytes_answers(service: Service, content_id: str) -> dict[Role, tuple[int, int]]:
    """Per role: the API's and the console's answer for the item's bytes."""
    from takedown.auth.accounts import create_user_token

    answers = {}
    for role in Role:
        email = _person(service, role.value)
        with service.db.write() as session:
            token = create_user_token(session, email, actor="test")[1]
        api = service.as_(token, "GET", f"/v1/evidence/{content_id}").status_code
        _sign_in(service, email)
        console = service.client.get(f"/console/media/{content_id}").status_code
        service.client.cookies.clear()
        answers[role] = (api, console)
    return answers


def test_the_api_and_the_console_give_an_items_bytes_to_the_same_roles(service: Service) -> None:
    """Item 4: the console served bytes to a role the API refused (the admin role). Now both
    ask ``auth.access.may_see_media``: reviewing roles on the item's case, and the evidence
    roles; admins run the service and see neither bytes nor contacts."""
    _reported_item(service)
    assert _bytes_answers(service, "item-1") == {
        Role.REVIEWER: (200, 200),
        Role.SENIOR_REVIEWER: (200, 200),
        Role.CHILD_SAFETY_SPECIALIST: (200, 200),
        Role.LEGAL: (200, 200),
        Role.ADMIN: (403, 403),
    }
    assert _events(service, "media.view_refused") and _events(service, "evidence.read_refused")
    # a P0 (child-safety) item: the reviewer role, which may not open the case, sees nothing
    _reported_item(service, "item-p0", p0=True)
    assert _bytes_answers(service, "item-p0") == {
        Role.REVIEWER: (403, 403),
        Role.SENIOR_REVIEWER: (200, 200),
        Role.CHILD_SAFETY_SPECIALIST: (200, 200),
        Role.LEGAL: (200, 200),
        Role.ADMIN: (403, 403),
    }


def test_the_action_feed_is_the_platforms_not_staffs(service: Service) -> None:
    """Item 5: a reviewer's token read P0 cases' categories and uploader ids off
    ``GET /v1/actions``; ``actions:read`` is now for platform keys only."""
    for role in Role:
        token = service.staff(role.value)
        assert service.as_(token, "GET", "/v1/actions").status_code == 403, role
    platform = service.key(Scope.ACTIONS_READ)
    assert service.as_(platform, "GET", "/v1/actions").status_code == 200


def test_reporter_contacts_only_for_legal_and_child_safety(service: Service) -> None:
    service.post(
        "/v1/content", json={"content_id": "c-1", "signals": [{"type": "md5", "value": MD5}]}
    )
    service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "c-1"}],
            "category": "child_sexual_abuse",
            "minor_depicted": "yes",
            "relationship": "parent_or_guardian",
            "contact": {"email": "parent@example.org"},
        },
    )
    seen = {}
    for role in (Role.ADMIN, Role.SENIOR_REVIEWER, Role.LEGAL, Role.CHILD_SAFETY_SPECIALIST):
        token = service.staff(role.value)
        case_id = service.as_(token, "GET", "/v1/cases?queue=child_safety").json()[0]["case_id"]
        contact = service.as_(token, "GET", f"/v1/cases/{case_id}").json()["reports"][0]["contact"]
        seen[role] = contact is not None
    assert seen == {
        Role.ADMIN: False,
        Role.SENIOR_REVIEWER: False,
        Role.LEGAL: True,
        Role.CHILD_SAFETY_SPECIALIST: True,
    }


def test_content_ids_that_steer_urls_are_refused_at_intake(service: Service) -> None:
    """Item 6: ``../../../admin/users/23/disable`` as a content id made an admin's "Reveal"
    click disable user 23. Such ids never get in now."""
    for bad in ("../../../admin/users/23/disable", "..", ".", "a/b", "a?b", "a#b", "a b", "%2e"):
        answer = service.post(
            "/v1/content", json={"content_id": bad, "signals": [{"type": "md5", "value": MD5}]}
        )
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["code"], answer.text
        report = service.client.post(
            "/v1/reports",
            json={
                "content": [{"content_id": bad}],
                "category": "other",
                "minor_depicted": "no",
                "relationship": "other_user",
            },
        )
        assert report.status_code == 422, (bad, report.text)
    good = service.post(
        "/v1/content",
        json={"content_id": "Post_1.a:b@c~d+e=f-g", "signals": [{"type": "md5", "value": MD5}]},
    )
    assert good.status_code == 201, good.text


def test_every_id_in_a_console_link_is_one_encoded_segment() -> None:
    """Rows stored before intake checked ids still cannot steer a link: the ``segment``
    filter encodes ``/``, ``?``, ``#`` and turns dot segments into names of nothing."""
    segment = templates.env.filters["segment"]
    assert (
        segment("../../../admin/users/23/disable") == "..%2F..%2F..%2Fadmin%2Fusers%2F23%2Fdisable"
    )
    assert segment("a?b#c d") == "a%3Fb%23c%20d"
    for dots in (".", ".."):
        encoded = segment(dots)
        assert "." not in encoded and "/" not in encoded
        assert urlsplit(f"https://x.example/console/media/{encoded}").path.count("/") == 3


def test_settings_never_redirect_to_another_site(service: Service) -> None:
    """Item 11: ``back=`` on /console/settings was an open redirect."""
    csrf = _sign_in(service, _person(service, "reviewer"))
    for back, expected in (
        ("https://evil.example/", "/console"),
        ("//evil.example/x", "/console"),
        ("/\\evil.example", "/console"),
        ("/report", "/console"),
        ("javascript:alert(1)", "/console"),
        ("/console/cases/7?x=1", "/console/cases/7?x=1"),
        ("/console", "/console"),
    ):
        answer = service.client.post(
            "/console/settings",
            data={"csrf_token": csrf, "blur": "10", "back": back},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == expected, back


def test_legal_destroys_evidence_as_the_readme_says(service: Service) -> None:
    """Item 11: the destroy route asked for the admin scope, which legal tokens lack."""
    service.client.app.state.takedown.evidence.put("e-1", b"bytes", {})  # type: ignore[attr-defined]
    order = {"request_reference": "LE-2026-1"}
    assert (
        service.as_(
            service.staff("admin"), "POST", "/v1/evidence/e-1/destroy", json=order
        ).status_code
        == 403
    )
    gone = service.as_(service.staff("legal"), "POST", "/v1/evidence/e-1/destroy", json=order)
    assert gone.status_code == 200, gone.text
    assert _events(service, "evidence.destroy")


def test_revealed_in_the_address_shows_nothing_without_the_audited_reveal(
    service: Service,
) -> None:
    """Item 11: ``?revealed=ID`` showed the item unblurred with no reveal event. Now the page
    shows an item unblurred only with the ticket the audited reveal hands out, for this
    session and this case."""
    case_id = _reported_item(service)
    reviewer = _person(service, "reviewer")
    csrf = _sign_in(service, reviewer)
    page = service.client.get(f"/console/cases/{case_id}?revealed=item-1")
    assert 'hidden-item"' in page.text
    assert not _events(service, "media.reveal")
    answer = service.client.post(
        f"/console/cases/{case_id}/reveal/item-1",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert len(_events(service, "media.reveal")) == 1
    location = answer.headers["location"]
    shown = service.client.get(location)
    assert 'hidden-item"' not in shown.text
    ticket = parse_qs(urlsplit(location).query)["revealed"][0]
    # the ticket is worth nothing in another person's session
    _sign_in(service, _person(service, "reviewer"))
    other = service.client.get(f"/console/cases/{case_id}?revealed={ticket}")
    assert 'hidden-item"' in other.text


def test_a_dot_segment_id_never_fetches_the_platforms_root(tmp_path: Any, db_url: str) -> None:
    """Item 11: a content id ``..`` made the signed media fetch ask the platform for ``/``."""
    from takedown.web.media import fetch

    asked: list[str] = []

    class Platform(QuietHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with serving(Platform) as base:
        settings = make_settings(
            tmp_path, db_url, media_url_template=f"{base}/media/{{content_id}}"
        )
        assert fetch(settings, "..") is None and fetch(settings, ".") is None
        assert asked == []
        assert fetch(settings, "post-1") == b"ok"
        assert asked == ["/media/post-1"]


def test_a_person_takes_their_own_token_and_no_one_elses(service: Service) -> None:
    """Item 3: minting tokens for people is not an API feature. A person takes their own
    token in the console; it carries their role's scopes and no more."""
    email = _person(service, "reviewer")
    csrf = _sign_in(service, email)
    # a token outlives the session: the password is asked again (a borrowed session is not
    # enough)
    borrowed = service.client.post("/console/token", data={"csrf_token": csrf, "password": "x"})
    assert borrowed.status_code == 403 and 'id="token-secret"' not in borrowed.text
    assert _events(service, "user.token_refused")
    page = service.client.post("/console/token", data={"csrf_token": csrf, "password": PASSWORD})
    secret = re.search(r'id="token-secret">([^<]+)<', page.text)
    assert secret is not None, page.text
    token = secret.group(1)
    assert service.as_(token, "GET", "/v1/cases").status_code == 200
    assert service.as_(token, "GET", "/v1/actions").status_code == 403
    assert service.as_(token, "GET", "/v1/keys").status_code == 403
    assert _events(service, "user.token")


def test_the_reviewer_role_cannot_download_bank_hash_lists(service: Service) -> None:
    """Item 12: the hash lists of the banks are ``banks:export``; reviewers see which banks
    there are, not their hashes."""
    service.post("/v1/banks", json={"name": "abuse"})
    for role, expected in (
        ("reviewer", 403),
        ("senior_reviewer", 403),
        ("legal", 403),
        ("child_safety_specialist", 200),
    ):
        token = service.staff(role)
        assert service.as_(token, "GET", "/v1/banks").status_code == 200
        answer = service.as_(token, "GET", "/v1/banks/abuse/entries")
        assert answer.status_code == expected, (role, answer.text)


def test_existing_platform_keys_keep_listing_entries_after_the_upgrade(tmp_path: Any) -> None:
    """The migration gives ``banks:export`` to platform keys that held ``banks:read``."""
    from sqlalchemy import create_engine, text

    from takedown.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0010")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at) VALUES "
                "('sync', 'td_x', :h, 'banks:read lookup', '2026-01-01 00:00:00')"
            ),
            {"h": "0" * 64},
        )
    upgrade(url)
    with engine.begin() as connection:
        scopes = connection.execute(text("SELECT scopes FROM api_keys")).scalar_one()
    engine.dispose()
    assert scopes.split() == ["banks:export", "banks:read", "lookup"]


def test_a_persons_token_is_no_trusted_flagger(service: Service) -> None:
    """``admin`` implies nothing more for a person: an admin's token reporting is an ordinary
    reporter (rate-limited, not marked as a trusted flagger); a platform key with the scope is."""
    service.post(
        "/v1/content", json={"content_id": "tf-1", "signals": [{"type": "md5", "value": MD5}]}
    )
    body = {
        "content": [{"content_id": "tf-1"}],
        "category": "other",
        "minor_depicted": "no",
        "relationship": "other_user",
    }
    by_admin = service.as_(service.staff("admin"), "POST", "/v1/reports", json=body)
    by_flagger = service.as_(service.key(Scope.TRUSTED_FLAGGER), "POST", "/v1/reports", json=body)
    assert by_admin.status_code == 201 and by_flagger.status_code == 201
    from sqlalchemy import select

    from takedown.store.models import Report

    with service.db.read() as session:
        flags = list(session.execute(select(Report.trusted_flagger).order_by(Report.id)).scalars())
    assert flags == [False, True]


def test_no_one_gives_a_role_that_reaches_more_than_their_own(service: Service) -> None:
    """A platform key makes no people; an admin (API or console) makes reviewers and admins
    but not the roles that read evidence or contacts, whose password it would learn."""
    email = _person(service, "admin")
    csrf = _sign_in(service, email)
    for role, allowed in (
        ("reviewer", True),
        ("senior_reviewer", True),
        ("admin", True),
        ("legal", False),
        ("child_safety_specialist", False),
    ):
        page = service.client.post(
            "/console/admin/users",
            data={"csrf_token": csrf, "email": f"{role}-new@example.org", "role": role},
        )
        assert (page.status_code == 200) is allowed, (role, page.status_code)
    from sqlalchemy import select

    from takedown.store.models import User

    with service.db.read() as session:
        made = set(session.execute(select(User.role).where(User.email.like("%-new@%"))).scalars())
    assert made == {"reviewer", "senior_reviewer", "admin"}


def test_reveal_tickets_carry_no_session_secret(service: Service) -> None:
    """The ticket sits in an address (history, proxy logs): it is signed, not encrypted, so it
    holds a digest of the session's CSRF token, not the token."""
    import base64
    import json

    case_id = _reported_item(service)
    csrf = _sign_in(service, _person(service, "reviewer"))
    answer = service.client.post(
        f"/console/cases/{case_id}/reveal/item-1",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    ticket = parse_qs(urlsplit(answer.headers["location"]).query)["revealed"][0]
    payload = ticket.split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert csrf not in json.dumps(decoded)
    assert decoded["i"] == "item-1" and decoded["k"] == case_id


def test_limits_count_an_ipv6_client_per_64() -> None:
    """Rotating addresses inside one /64 buys nothing, for report limits and sign-in locks."""
    from takedown.api.state import client_group

    assert client_group("2001:db8:1:2::1") == client_group("2001:db8:1:2:ffff::9")
    assert client_group("2001:db8:1:3::1") != client_group("2001:db8:1:2::1")
    assert client_group("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_group("198.51.100.7") != client_group("198.51.100.8")
