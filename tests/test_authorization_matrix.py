"""The authorisation matrix: every route of the app (API and console, read from the route
table) x every identity (no credentials, a platform key per scope, a staff token per role, a
console session per role), against the expected answer written once per route below.

A route without a row here fails the test: adding a route means deciding who may call it.
The rows name the roles explicitly (not through ``ROLE_SCOPES``), so that a change in the
code's role tables shows up here as a failure to look at, not as a silent widening.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from takedown.auth.accounts import create_key, create_user, create_user_token
from takedown.auth.scopes import Role, Scope
from takedown.store.models import Case
from tests.service_support import (
    Service,
    database_url,
    make_settings,
    running_service,
)

R, S, C, L, A = (
    Role.REVIEWER,
    Role.SENIOR_REVIEWER,
    Role.CHILD_SAFETY_SPECIALIST,
    Role.LEGAL,
    Role.ADMIN,
)
ALL_ROLES = frozenset(Role)
NOBODY: frozenset[Role] = frozenset()
PASSWORD = "a long test password"

CASE = "{case}"  # filled with the id of a general (not P0) case holding CONTENT
CONTENT = "matrix-1"


@dataclass(frozen=True)
class Rule:
    """Who gets past the gate of one route.

    ``scope``: the API scope a platform key needs (``None``: no key passes). ``roles``: the
    staff roles whose token (API) or session (console) passes. ``public``: everyone, with the
    same answer whatever credentials come with the request.
    """

    scope: Scope | None = None
    roles: frozenset[Role] = NOBODY
    public: bool = False
    json: dict[str, Any] | None = None
    form: dict[str, str] = field(default_factory=dict)


def api(scope: Scope | None, roles: frozenset[Role], **kw: Any) -> Rule:
    return Rule(scope=scope, roles=roles, **kw)


def staff_only(roles: frozenset[Role], **kw: Any) -> Rule:
    """A route for people: a platform key never passes, whatever its scopes."""
    return Rule(scope=None, roles=roles, **kw)


def console(roles: frozenset[Role], **form: str) -> Rule:
    return Rule(scope=None, roles=roles, form=form)


PUBLIC = Rule(public=True)
DECIDERS = frozenset({R, S, C, A})
MEDIA = frozenset({R, S, C, L})  # an item's bytes: reviewing roles on its case, and evidence
EVIDENCE = frozenset({C, L})
BANKERS = frozenset({C, A})

MATRIX: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): api(Scope.METRICS, frozenset({A})),
    ("MOUNT", "/static"): PUBLIC,
    # the platform's integration
    ("POST", "/v1/content"): api(Scope.CONTENT_WRITE, NOBODY),
    ("GET", "/v1/content/{content_id}"): api(Scope.CONTENT_WRITE, NOBODY),
    ("PATCH", "/v1/content/{content_id}"): api(Scope.CONTENT_WRITE, NOBODY),
    ("POST", "/v1/lookup"): api(Scope.LOOKUP, ALL_ROLES),
    ("POST", "/v1/lookup/batch"): api(Scope.LOOKUP, ALL_ROLES),
    ("GET", "/v1/actions"): api(Scope.ACTIONS_READ, NOBODY),
    ("POST", "/v1/cases/{case_id}/appeals"): api(Scope.APPEALS_WRITE, NOBODY),
    # reporters: no account
    ("POST", "/v1/reports"): PUBLIC,
    ("GET", "/v1/reports/status/{token}"): PUBLIC,
    ("POST", "/v1/reports/status/{token}/reply"): PUBLIC,
    ("POST", "/v1/reports/status/{token}/appeal"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/report"): PUBLIC,
    ("POST", "/report"): PUBLIC,
    ("GET", "/status/{token}"): PUBLIC,
    ("POST", "/status/{token}"): PUBLIC,
    # case work: people only
    ("GET", "/v1/cases"): staff_only(ALL_ROLES),
    ("GET", "/v1/cases/{case_id}"): staff_only(ALL_ROLES),
    ("POST", "/v1/cases/{case_id}/decisions"): staff_only(DECIDERS, json={"outcome": "escalate"}),
    ("POST", "/v1/cases/{case_id}/appeal-decision"): staff_only(
        DECIDERS, json={"outcome": "upheld"}
    ),
    ("POST", "/v1/cases/{case_id}/copies/{content_id}"): staff_only(
        DECIDERS, json={"decision": "remove"}
    ),
    # banks: hash lists only to those who build banks
    ("POST", "/v1/banks"): api(Scope.BANKS_WRITE, BANKERS),
    ("GET", "/v1/banks"): api(Scope.BANKS_READ, ALL_ROLES),
    ("GET", "/v1/banks/{name}"): api(Scope.BANKS_READ, ALL_ROLES),
    ("PATCH", "/v1/banks/{name}"): api(Scope.BANKS_WRITE, BANKERS),
    ("GET", "/v1/banks/{name}/entries"): api(Scope.BANKS_EXPORT, BANKERS),
    ("POST", "/v1/banks/{name}/entries"): api(Scope.BANKS_WRITE, BANKERS),
    ("POST", "/v1/banks/{name}/import"): api(Scope.BANKS_WRITE, BANKERS),
    ("POST", "/v1/banks/{name}/entries/{entry_id}/disable"): api(Scope.BANKS_WRITE, BANKERS),
    ("POST", "/v1/banks/{name}/entries/{entry_id}/enable"): api(Scope.BANKS_WRITE, BANKERS),
    # hash-sharing exchanges: their credentials are the admin's
    ("POST", "/v1/exchanges"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("GET", "/v1/exchanges"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("GET", "/v1/exchanges/{name}"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("POST", "/v1/exchanges/{name}/fetch"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("PUT", "/v1/exchanges/{name}/credentials"): api(
        Scope.EXCHANGES_ADMIN, frozenset({A}), json={"credentials": {}}
    ),
    ("DELETE", "/v1/exchanges/{name}"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    # takedown's own shared-hash feed: another instance's key; what is shared: the admin's
    ("GET", "/v1/exchange/feed"): api(Scope.EXCHANGE_READ, NOBODY),
    ("GET", "/v1/exchange/feed/key"): api(Scope.EXCHANGE_READ, NOBODY),
    ("GET", "/v1/sharing"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("PUT", "/v1/sharing/{target}/{category}"): api(
        Scope.EXCHANGES_ADMIN, frozenset({A}), json={"enabled": False}
    ),
    ("GET", "/v1/retro-scans"): api(Scope.BANKS_READ, ALL_ROLES),
    # the HMA-compatible API (api/hma; with hma_compat_root the same routes, and gates, are
    # also at /h, /m, /c and /status: tests/test_hma_api.py checks they are the same)
    ("GET", "/hma/status"): PUBLIC,
    ("GET", "/hma/h/hash"): api(Scope.LOOKUP, ALL_ROLES),
    ("POST", "/hma/h/hash"): api(Scope.LOOKUP, ALL_ROLES),
    ("GET", "/hma/m/raw_lookup"): api(Scope.LOOKUP, ALL_ROLES),
    ("GET", "/hma/m/lookup"): api(Scope.LOOKUP, ALL_ROLES),
    ("POST", "/hma/m/lookup"): api(Scope.LOOKUP, ALL_ROLES),
    ("GET", "/hma/m/index/status"): api(Scope.LOOKUP, ALL_ROLES),
    ("POST", "/hma/m/compare"): api(Scope.LOOKUP, ALL_ROLES),
    ("GET", "/hma/c/banks"): api(Scope.BANKS_READ, ALL_ROLES),
    ("GET", "/hma/c/bank/{name}"): api(Scope.BANKS_READ, ALL_ROLES),
    ("GET", "/hma/c/bank/{name}/content/{content_id}"): api(Scope.BANKS_READ, ALL_ROLES),
    ("GET", "/hma/c/signal_type"): api(Scope.BANKS_READ, ALL_ROLES),
    ("GET", "/hma/c/signal_type/index"): api(Scope.BANKS_READ, ALL_ROLES),
    ("GET", "/hma/c/content_type"): api(Scope.BANKS_READ, ALL_ROLES),
    ("POST", "/hma/c/banks"): api(Scope.BANKS_WRITE, BANKERS),
    ("PUT", "/hma/c/bank/{name}"): api(Scope.BANKS_WRITE, BANKERS),
    ("DELETE", "/hma/c/bank/{name}"): api(Scope.BANKS_WRITE, BANKERS),
    ("POST", "/hma/c/bank/{name}/content"): api(Scope.BANKS_WRITE, BANKERS),
    ("POST", "/hma/c/bank/{name}/signal"): api(Scope.BANKS_WRITE, BANKERS),
    ("PUT", "/hma/c/bank/{name}/content/{content_id}"): api(Scope.BANKS_WRITE, BANKERS),
    ("DELETE", "/hma/c/bank/{name}/content/{content_id}"): api(Scope.BANKS_WRITE, BANKERS),
    ("GET", "/hma/c/exchanges"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("GET", "/hma/c/exchange/{name}"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("GET", "/hma/c/exchange/{name}/status"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("PUT", "/hma/c/exchange/{name}"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("DELETE", "/hma/c/exchange/{name}"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("POST", "/hma/c/exchanges"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("GET", "/hma/c/exchanges/apis"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("GET", "/hma/c/exchanges/api/{api_name}"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    ("POST", "/hma/c/exchanges/api/{api_name}"): api(Scope.EXCHANGES_ADMIN, frozenset({A})),
    # webhooks and administration
    ("POST", "/v1/webhooks"): api(Scope.WEBHOOKS_WRITE, frozenset({A})),
    ("GET", "/v1/webhooks"): api(Scope.WEBHOOKS_WRITE, frozenset({A})),
    ("DELETE", "/v1/webhooks/{webhook_id}"): api(Scope.WEBHOOKS_WRITE, frozenset({A})),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): api(Scope.WEBHOOKS_WRITE, frozenset({A})),
    ("POST", "/v1/deliveries/{delivery_id}/retry"): api(Scope.WEBHOOKS_WRITE, frozenset({A})),
    ("POST", "/v1/keys"): api(Scope.ADMIN, frozenset({A})),
    ("GET", "/v1/keys"): api(Scope.ADMIN, frozenset({A})),
    ("DELETE", "/v1/keys/{key_id}"): api(Scope.ADMIN, frozenset({A})),
    ("POST", "/v1/users"): staff_only(
        frozenset({A}), json={"email": "matrix@example.org", "role": "reviewer"}
    ),
    ("GET", "/v1/users"): api(Scope.ADMIN, frozenset({A})),
    ("PATCH", "/v1/users/{user_id}"): staff_only(frozenset({A}), json={"role": "senior_reviewer"}),
    ("GET", "/v1/audit"): api(Scope.AUDIT_READ, frozenset({C, L, A})),
    ("GET", "/v1/audit/verify"): api(Scope.AUDIT_READ, frozenset({C, L, A})),
    # evidence and the CyberTipline: named people in the legal and child-safety roles
    ("GET", "/v1/evidence/{content_id}"): staff_only(MEDIA),
    ("GET", "/v1/evidence/{content_id}/record"): staff_only(EVIDENCE),
    ("POST", "/v1/evidence/{content_id}/hold"): staff_only(frozenset({L}), json={"hold": True}),
    ("POST", "/v1/evidence/{content_id}/destroy"): staff_only(
        frozenset({L}), json={"request_reference": "LE-1"}
    ),
    ("GET", "/v1/cybertipline"): staff_only(EVIDENCE),
    ("POST", "/v1/cybertipline/{tip_id}/approve"): staff_only(frozenset({L})),
    ("POST", "/v1/cybertipline/{tip_id}/file"): staff_only(frozenset({L})),
    # the console
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("POST", "/console/logout"): PUBLIC,  # signs out whoever is signed in; no one is refused
    ("GET", "/console"): console(ALL_ROLES),
    ("GET", "/console/cases/{case_id}"): console(ALL_ROLES),
    ("POST", "/console/cases/{case_id}/reveal/{content_id}"): console(MEDIA),
    ("GET", "/console/media/{content_id}"): console(MEDIA),
    ("GET", "/console/media/{content_id}/frames/{number}"): console(MEDIA),
    ("POST", "/console/cases/{case_id}/claim"): console(DECIDERS, action="release"),
    ("POST", "/console/cases/{case_id}/decide"): console(DECIDERS, outcome="escalate"),
    ("POST", "/console/settings"): console(ALL_ROLES, blur="12"),
    ("GET", "/console/dashboard"): console(ALL_ROLES),
    ("GET", "/console/token"): console(ALL_ROLES),
    ("POST", "/console/token"): console(ALL_ROLES, password=PASSWORD),
    ("GET", "/console/transparency"): console(ALL_ROLES),
    ("GET", "/console/transparency.pdf"): console(ALL_ROLES),
    ("GET", "/console/transparency.csv"): console(ALL_ROLES),
    ("GET", "/console/cybertipline"): console(EVIDENCE),
    ("POST", "/console/cybertipline/{tip_id}/approve"): console(frozenset({L})),
    ("POST", "/console/cybertipline/{tip_id}/file"): console(frozenset({L})),
    ("GET", "/console/admin"): console(BANKERS),
    ("POST", "/console/admin/users"): console(frozenset({A}), email="", role="reviewer"),
    ("POST", "/console/admin/users/{user_id}/disable"): console(frozenset({A})),
    ("POST", "/console/admin/users/{user_id}/role"): console(frozenset({A}), role="reviewer"),
    ("POST", "/console/admin/users/{user_id}/unlock"): console(frozenset({A})),
    ("POST", "/console/admin/keys"): console(frozenset({A}), name="", scopes="lookup"),
    ("POST", "/console/admin/keys/{key_id}/revoke"): console(frozenset({A})),
    ("POST", "/console/admin/webhooks"): console(frozenset({A}), url="not a url"),
    ("POST", "/console/admin/deliveries/{delivery_id}/retry"): console(frozenset({A})),
    ("POST", "/console/admin/banks/{name}/import"): console(BANKERS),
    ("POST", "/console/admin/banks"): console(BANKERS, name=""),
    ("GET", "/console/admin/banks/{name}"): console(BANKERS),
    ("POST", "/console/admin/banks/{name}/entries/{entry_id}/disable"): console(BANKERS),
    ("GET", "/console/admin/exchanges"): console(frozenset({A})),
    ("POST", "/console/admin/exchanges"): console(frozenset({A}), name=""),
    ("POST", "/console/admin/exchanges/{name}/fetch"): console(frozenset({A})),
    ("POST", "/console/admin/exchanges/{name}/credentials"): console(frozenset({A})),
    ("POST", "/console/admin/exchanges/{name}/remove"): console(frozenset({A})),
    ("GET", "/console/admin/sharing"): console(frozenset({A})),
    ("POST", "/console/admin/sharing/{target}/{category}"): console(frozenset({A}), enabled="0"),
}

# Ids that exist where the gate must be reached with real data (the case and its item);
# ids that do not exist elsewhere, so that an allowed call changes nothing that matters.
PATH_VALUES = {
    "case_id": CASE,
    "content_id": CONTENT,
    "token": "no-such-status-token",
    "name": "matrix-bank",
    "entry_id": "999999",
    "webhook_id": "999999",
    "delivery_id": "999999",
    "key_id": "999999",
    "user_id": "999999",
    "tip_id": "999999",
    "number": "0",
    "target": "feed",
    "category": "other",
    "api_name": "no_such_api",
}


def app_routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, as the app's router table holds them."""
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI >= 0.16x)
            for context in route.effective_route_contexts():
                for method in sorted(set(context.methods) - {"HEAD"}):
                    yield method, context.path
        elif isinstance(route, Mount):
            yield "MOUNT", route.path
        else:
            for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
                yield method, route.path


@dataclass(frozen=True)
class Identity:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    scopes: frozenset[Scope] = frozenset()  # a platform key's
    role: Role | None = None  # a person's

    @property
    def is_key(self) -> bool:
        return bool(self.scopes)


@dataclass
class World:
    service: Service
    case_id: int
    api: list[Identity]
    console: list[Identity]


def _login(client: TestClient, email: str) -> tuple[dict[str, str], str]:
    client.cookies.clear()
    form = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    cookies = dict(client.cookies.items())
    page = client.get("/console/dashboard")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text
    client.cookies.clear()
    return cookies, csrf.group(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp(f"matrix-{request.param}")
    with (
        database_url(request.param, tmp) as url,
        running_service(make_settings(tmp, url)) as service,
    ):
        admin = service.headers()
        service.post("/v1/banks", json={"name": "matrix-bank"})
        registered = service.post(
            "/v1/content",
            json={
                "content_id": CONTENT,
                "url": "https://photos.example/p/matrix-1",
                "signals": [{"type": "md5", "value": "0" * 32}],
            },
        )
        assert registered.status_code == 201, registered.text
        reported = service.client.post(
            "/v1/reports",
            json={
                "content": [{"content_id": CONTENT}],
                "category": "other",
                "minor_depicted": "no",
                "relationship": "other_user",
            },
        )
        assert reported.status_code == 201, reported.text
        with service.db.read() as session:
            case_id = session.execute(select(Case.id)).scalar_one()
        api_ids = [Identity("anonymous")]
        with service.db.write() as session:
            for scope in Scope:
                secret = create_key(session, f"only {scope}", frozenset({scope}), "test")[1]
                api_ids.append(
                    Identity(f"key[{scope}]", service.headers(secret), scopes=frozenset({scope}))
                )
            people = {}
            for role in Role:
                email = f"{role.value}-{uuid.uuid4().hex[:6]}@example.org"
                create_user(session, email, role, PASSWORD, actor="test")
                token = create_user_token(session, email, actor="test")[1]
                api_ids.append(Identity(f"token[{role}]", service.headers(token), role=role))
                people[role] = email
        console_ids = [Identity("anonymous"), Identity("admin key", admin)]
        for role, email in people.items():
            cookies, csrf = _login(service.client, email)
            console_ids.append(Identity(f"session[{role}]", cookies=cookies, csrf=csrf, role=role))
        yield World(service, case_id, api_ids, console_ids)


def _path(template: str, case_id: int) -> str:
    def fill(match: re.Match[str]) -> str:
        return PATH_VALUES[match.group(1)].replace(CASE, str(case_id))

    return re.sub(r"\{(\w+)\}", fill, template)


def _call(world: World, method: str, path: str, rule: Rule, who: Identity) -> Any:
    client = world.service.client
    client.cookies.clear()
    url = "/static/site.css" if method == "MOUNT" else _path(path, world.case_id)
    kwargs: dict[str, Any] = {"headers": who.headers, "follow_redirects": False}
    for name, value in who.cookies.items():
        client.cookies.set(name, value)
    if path.startswith("/console") and method == "POST":
        kwargs["data"] = {"csrf_token": who.csrf, **rule.form}
    elif rule.json is not None:
        kwargs["json"] = rule.json
    elif method in ("POST", "PATCH"):
        kwargs["json"] = {}
    answer = client.request("GET" if method == "MOUNT" else method, url, **kwargs)
    client.cookies.clear()
    return answer


def _refused(answer: Any) -> bool:
    """Turned away at the gate: 401/403, or the console's way of asking to sign in."""
    if answer.status_code in (401, 403):
        return True
    return answer.status_code in (302, 303) and answer.headers.get("location", "").endswith(
        "/console/login"
    )


def _expected(rule: Rule, who: Identity, console_route: bool) -> bool:
    if rule.public:
        return True
    if who.role is not None:
        return who.role in rule.roles
    if console_route or rule.scope is None:
        return False  # keys never open the console, nor a route for people
    return rule.scope in who.scopes or (Scope.ADMIN in who.scopes and rule.scope != "evidence")


def test_every_route_has_a_row(world: World) -> None:
    routes = set(app_routes(world.service.client.app))
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without a row in the authorisation matrix: {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_the_matrix(world: World) -> None:
    wrong: list[str] = []
    # signing out ends the session it is given, so it goes last
    order = sorted(MATRIX, key=lambda route: route == ("POST", "/console/logout"))
    for method, path in order:
        rule = MATRIX[(method, path)]
        console_route = path.startswith("/console")
        identities = world.console if console_route else world.api
        baseline = None
        for who in identities:
            answer = _call(world, method, path, rule, who)
            assert answer.status_code < 500, f"{method} {path} as {who.name}: {answer.text}"
            if rule.public:
                # the same answer whatever the credentials (rate limits aside)
                if answer.status_code == 429:
                    continue
                if baseline is None:
                    baseline = answer.status_code
                if answer.status_code != baseline or answer.status_code == 401:
                    wrong.append(f"{method} {path} as {who.name}: {answer.status_code}")
                continue
            if _refused(answer) == _expected(rule, who, console_route):
                expected = "pass" if _expected(rule, who, console_route) else "refused"
                wrong.append(
                    f"{method} {path} as {who.name}: expected {expected}, "
                    f"got {answer.status_code} {answer.text[:120]!r}"
                )
    assert not wrong, "\n".join(wrong)
