"""Webhooks end to end: a real receiver on 127.0.0.1 that fails, hangs and restarts; an independent verifier."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.app import create_app
from service.db import Database, create_pool
from service.events.schemas import EVENT_TYPES
from service.settings import Settings
from service.webhooks import delivery, queries, targets
from tests.api.conftest import arrange
from tests.api.test_events import a_day_of_applications, feed
from tests.api.test_review import submit, withdraw
from tests.api.webhook_receiver import Action, Receiver
from tests.conftest import Tokens
from tests.service.test_cli import SHINSEI, env_for

Client = AsyncTestClient[Litestar]
FAST: dict[str, Any] = {
    "env": "development",  # the receiver is on the loopback
    "audit_seal_seconds": 0,
    "webhook_seconds": 0.1,
    "webhook_timeout_seconds": 0.5,
    "webhook_backoff_seconds": 0.05,
    "webhook_backoff_max_seconds": 0.2,
    "webhook_max_attempts": 100,
}


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings a test changes, by parametrizing this name."""
    return {}


@pytest.fixture
def settings(settings: Settings, overrides: dict[str, Any]) -> Settings:
    return msgspec.structs.replace(settings, **(FAST | overrides))


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A pool of the test's own loop, for running workers beside the app's (as other processes would)."""
    pool = await create_pool(settings, str(settings.database_url))
    yield Database(pool, settings)
    await pool.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    with contextlib.suppress(AssertionError):
        await server.stop()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def register(client: Client, header: dict[str, str], url: str, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "event_types": ["submission.received", "submission.withdrawn"]} | extra
    response = await client.post("/api/v1/webhooks", json=body, headers=header)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def settled(conn: asyncpg.Connection, expected: int, seconds: float = 60) -> None:
    """Wait until ``expected`` deliveries exist and none is pending."""
    async with asyncio.timeout(seconds):
        while True:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, count(*) FILTER (WHERE state = 'pending') AS pending FROM webhook_delivery"
            )
            assert row is not None
            if row["n"] >= expected and row["pending"] == 0:
                return
            await asyncio.sleep(0.05)


def verified(arrival: Any, secret: str) -> dict[str, Any]:
    """The body, checked by the standardwebhooks package (not our code) against the secret."""
    payload: dict[str, Any] = Webhook(secret).verify(arrival.body, arrival.headers)
    return payload


async def test_a_day_of_applications_reaches_a_failing_receiver_whole_in_order_and_signed(
    client: Client,
    database: Database,
    admin: dict[str, str],
    conn: asyncpg.Connection,
    tokens: Tokens,
    receiver: Receiver,
    settings: Settings,
) -> None:
    """Two workers (the app's and another pool's, as another process) against a receiver that fails.

    Each event's first request gets a 500, a hang past the sender's time limit, two 500s, or a 200,
    in turn; halfway the receiver is down for a while and comes back on the same port.
    """

    order: list[str] = []

    def behave(webhook_id: str, earlier: int) -> Action:
        if webhook_id not in order:
            order.append(webhook_id)
        kind = order.index(webhook_id) % 4  # by order of first arrival, so that every kind happens
        if kind == 0 and earlier == 0:
            return "fail"
        if kind == 1 and earlier == 0:
            return "hang"
        if kind == 2 and earlier < 2:
            return "fail"
        return "ok"

    receiver.behave = behave
    header = await tokens.header("agency-admin", "MHLW")
    before = await feed(client, header)
    created = await register(client, header, receiver.url, event_types=list(EVENT_TYPES))
    secret = created["secret"]

    stop = asyncio.Event()

    async def second_worker() -> None:
        async with delivery.http_client(settings) as http:
            while not stop.is_set():
                await delivery.deliver_due(database, http, settings, now)
                await asyncio.sleep(0.05)

    worker = asyncio.create_task(second_worker())
    try:
        made = await a_day_of_applications(client, conn, tokens)
        await receiver.stop()  # the back office restarts...
        made["late"] = await submit(client, conn)  # ...while something happens
        await asyncio.sleep(1.0)
        await receiver.start()
        expected = (await feed(client, header))[len(before) :]
        await settled(conn, len(expected))
    finally:
        stop.set()
        await worker

    # Every request is signed as Standard Webhooks says, checked by an independent implementation.
    for arrival in receiver.arrivals:
        verified(arrival, secret)
        assert arrival.headers["content-type"] == "application/json"
    accepted = receiver.accepted()
    # Nothing lost: each event accepted; the body is the feed's item, byte for byte the same each time.
    assert {a.webhook_id for a in accepted} == {e["id"] for e in expected}
    assert next(msgspec.json.decode(a.body) for a in accepted if a.webhook_id == expected[0]["id"]) == expected[0]
    bodies: dict[str, bytes] = {}
    for arrival in receiver.arrivals:
        assert bodies.setdefault(arrival.webhook_id, arrival.body) == arrival.body  # duplicates: same id, same body
    by_id = {e["id"]: e for e in expected}
    for arrival in receiver.arrivals:
        assert msgspec.json.decode(arrival.body) == by_id[arrival.webhook_id]
    # In order per application: the first arrival of each event follows the feed's order.
    first_seen = list(dict.fromkeys(a.webhook_id for a in receiver.arrivals))
    for submission in made.values():
        events = [e["id"] for e in expected if e["data"].get("submission_id") == submission["submission_id"]]
        assert [i for i in first_seen if i in events] == events
        assert len(events) >= (1 if submission is made["late"] else 2)
    # The failures really happened: 500s, timeouts, refused connections.
    errors = [r["error"] for r in await conn.fetch("SELECT error FROM webhook_attempt WHERE error IS NOT NULL")]
    assert any(e == "HTTP 500" for e in errors)
    assert any(e.startswith("no answer within 0.5 s") for e in errors)
    assert any(e.startswith("ConnectError") for e in errors)
    assert len(receiver.arrivals) > len(accepted) > 0

    # The history, as the agency admin sees it.
    webhook = created["webhook"]["id"]
    pages = await client.get(f"/api/v1/webhooks/{webhook}/deliveries", params={"limit": 5}, headers=header)
    assert pages.status_code == 200 and len(pages.json()["items"]) == 5 and pages.json()["next_cursor"]
    rest = await client.get(
        f"/api/v1/webhooks/{webhook}/deliveries",
        params={"limit": 200, "cursor": pages.json()["next_cursor"]},
        headers=header,
    )
    listed = pages.json()["items"] + rest.json()["items"]
    assert [d["event_id"] for d in listed] == [e["id"] for e in reversed(expected)]
    assert {d["state"] for d in listed} == {"delivered"}
    retried = next(d for d in listed if d["attempts"] > 1)
    detail = (await client.get(f"/api/v1/webhooks/{webhook}/deliveries/{retried['id']}", headers=header)).json()
    assert len(detail["history"]) == detail["attempts"] and detail["history"][0]["status"] == 200
    assert detail["history"][-1]["status"] in (500, None)


@pytest.mark.parametrize("overrides", [{"webhook_max_attempts": 2}])
async def test_dead_letters_release_the_next_event_and_can_be_retried(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens, receiver: Receiver
) -> None:
    refused: set[str] = set()
    receiver.behave = lambda webhook_id, _n: "fail" if webhook_id in refused or not refused else "ok"
    header = await tokens.header("agency-admin", "MHLW")
    created = await register(client, header, receiver.url)
    webhook = created["webhook"]["id"]
    submission = await submit(client, conn)
    [received] = (await client.get(f"/api/v1/webhooks/{webhook}/deliveries", headers=header)).json()["items"]
    refused.add(received["event_id"])  # this event is refused for good; anything else is taken
    assert (await withdraw(client, submission)).status_code == 200
    await settled(conn, 2)

    dead = (await client.get(f"/api/v1/webhooks/{webhook}/deliveries?state=dead", headers=header)).json()["items"]
    assert [(d["event_id"], d["attempts"], d["last_status"], d["last_error"]) for d in dead] == [
        (received["event_id"], 2, 500, "HTTP 500")
    ]
    ids = [a.webhook_id for a in receiver.arrivals]
    withdrawn = next(i for i in ids if i != received["event_id"])
    # The withdrawal went only once the received event was dead (after its two attempts).
    assert ids == [received["event_id"], received["event_id"], withdrawn]

    refused.clear()
    refused.add("nothing")
    retry = await client.post(f"/api/v1/webhooks/{webhook}/deliveries/{dead[0]['id']}/retry", headers=header)
    assert (retry.status_code, retry.json()["state"], retry.json()["attempts"]) == (202, "pending", 0)
    await settled(conn, 2)
    assert [a.webhook_id for a in receiver.accepted()] == [withdrawn, received["event_id"]]
    again = (await client.get(f"/api/v1/webhooks/{webhook}/deliveries/{dead[0]['id']}", headers=header)).json()
    assert again["state"] == "delivered" and [h["status"] for h in again["history"]] == [200, 500, 500]
    missing = await client.post(f"/api/v1/webhooks/{webhook}/deliveries/{withdrawn}/retry", headers=header)
    assert missing.status_code == 404


async def test_secret_rotation_signs_with_both_during_the_overlap(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens, receiver: Receiver
) -> None:
    header = await tokens.header("agency-admin", "MHLW")
    created = await register(client, header, receiver.url)
    old = created["secret"]
    assert old.startswith("whsec_") and len(base64.b64decode(old.removeprefix("whsec_"))) == 32
    webhook = created["webhook"]["id"]
    rotate = f"/api/v1/webhooks/{webhook}/rotate-secret"
    rotated = await client.post(rotate, json={"overlap_seconds": 3600}, headers=header)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["webhook"]["previous_secret_expires_at"] is not None
    await submit(client, conn)
    await settled(conn, 1)
    [during] = receiver.arrivals
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(during, new) == verified(during, old)  # a receiver on either secret accepts it

    latest = await client.post(rotate, json={"overlap_seconds": 0}, headers=header)
    newest = latest.json()["secret"]
    assert latest.json()["webhook"]["previous_secret_expires_at"] is None
    await submit(client, conn)
    await settled(conn, 2)
    after = receiver.arrivals[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    verified(after, newest)
    for stale in (new, old):
        with pytest.raises(WebhookVerificationError):
            verified(after, stale)
    # Secrets appear in those two answers only.
    listed = (await client.get(f"/api/v1/webhooks/{webhook}", headers=header)).text
    assert "whsec_" not in listed and newest not in listed


async def test_endpoints_are_the_agency_admins_and_checked(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens, receiver: Receiver
) -> None:
    mhlw = await tokens.header("agency-admin", "MHLW")
    created = await register(client, mhlw, receiver.url, description="ledger")
    webhook = created["webhook"]
    assert webhook | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None, "agency": "MHLW", "url": receiver.url,
        "event_types": ["submission.received", "submission.withdrawn"], "active": True, "description": "ledger",
        "previous_secret_expires_at": None, "created_at": None, "updated_at": None,
    }  # fmt: skip
    path = f"/api/v1/webhooks/{webhook['id']}"
    moj = await tokens.header("agency-admin", "MOJ")
    assert (await client.get(path, headers=moj)).status_code == 404
    assert (await client.patch(path, json={"active": False}, headers=moj)).status_code == 404
    assert (await client.get("/api/v1/webhooks", headers=moj)).json() == {"items": [], "next_cursor": None}
    clerk_header = await tokens.header("clerk", "MHLW")
    assert (await client.get("/api/v1/webhooks", headers=clerk_header)).status_code == 403
    assert (await client.get("/api/v1/webhooks")).status_code == 401
    listed = (await client.get("/api/v1/webhooks", headers=admin)).json()["items"]
    assert [w["id"] for w in listed] == [webhook["id"]]

    bad = await client.post("/api/v1/webhooks", json={"url": "ftp://x", "event_types": ["nope"]}, headers=mhlw)
    assert bad.status_code == 422 and [e["pointer"] for e in bad.json()["errors"]] == ["/event_types/0"]
    no_agency = await client.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["form.retired"]},
                                  headers=admin)  # fmt: skip
    assert [e["pointer"] for e in no_agency.json()["errors"]] == ["/agency"]
    foreign = await client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "event_types": ["form.retired"], "agency": "MOJ"}, headers=mhlw
    )
    assert foreign.status_code == 403
    scheme = await client.post("/api/v1/webhooks", json={"url": "ftp://x/", "event_types": ["form.retired"]},
                               headers=mhlw)  # fmt: skip
    assert scheme.json()["errors"] == [{"pointer": "/url", "code": "scheme", "detail": "must be http(s)://"}]

    # Inactive: no deliveries are made for what happens meanwhile (the feed has it).
    paused = await client.patch(path, json={"active": False}, headers=mhlw)
    assert paused.status_code == 200 and paused.json()["active"] is False
    await submit(client, conn)
    assert await conn.fetchval("SELECT count(*) FROM webhook_delivery") == 0
    assert (await client.patch(path, json={"active": True}, headers=mhlw)).json()["active"] is True
    await submit(client, conn)
    await settled(conn, 1)
    assert len(receiver.accepted()) == 1
    assert (await client.delete(path, headers=mhlw)).status_code == 204
    assert (await client.get(path, headers=mhlw)).status_code == 404
    assert await conn.fetchval("SELECT count(*) FROM webhook_delivery") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox_event WHERE type = 'submission.received'") == 2


@pytest.mark.parametrize("overrides", [{"webhook_seconds": 0}])  # no worker of the app's own: this test is both
async def test_a_worker_that_dies_mid_delivery_leaves_it_to_the_next(
    client: Client, database: Database, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens,
    receiver: Receiver, settings: Settings,
) -> None:  # fmt: skip
    header = await tokens.header("agency-admin", "MHLW")
    created = await register(client, header, receiver.url)
    await submit(client, conn)
    claimed = await queries.claim_due(conn, now(), now() + dt.timedelta(minutes=1), 10)
    assert len(claimed) == 1  # ...and this worker dies without sending or recording
    async with delivery.http_client(settings) as http:
        meanwhile = await delivery.deliver_due(database, http, settings, now)
        assert (meanwhile, receiver.arrivals) == ({"delivered": 0, "failed": 0, "dead": 0}, [])  # leased to the dead
        later = await delivery.deliver_due(database, http, settings, lambda: now() + dt.timedelta(minutes=2))
    assert later == {"delivered": 1, "failed": 0, "dead": 0}
    [arrival] = receiver.arrivals
    verified(arrival, created["secret"])
    assert await conn.fetchval("SELECT attempts FROM webhook_delivery") == 2  # the lost attempt counts


async def test_production_refuses_private_targets_at_registration_and_delivery(
    conn: asyncpg.Connection, tokens: Tokens, settings: Settings, receiver: Receiver, database: Database
) -> None:
    production = msgspec.structs.replace(settings, env="production", webhook_seconds=0)
    async with AsyncTestClient(create_app(production)) as client:
        await arrange(client, tokens)
        header = await tokens.header("agency-admin", "MHLW")
        for url, code in (
            (receiver.url, "scheme"),
            (f"https://127.0.0.1:{receiver.port}/", "forbidden_address"),
            ("https://localhost/hook", "forbidden_address"),
            ("https://10.1.2.3/", "forbidden_address"),
            ("https://169.254.169.254/latest/meta-data", "forbidden_address"),
            ("https://[::1]/", "forbidden_address"),
            ("https://[::ffff:192.168.0.1]/", "forbidden_address"),
            ("https://user:pw@93.184.215.14/", "credentials"),
        ):
            response = await client.post("/api/v1/webhooks", json={"url": url, "event_types": ["form.retired"]},
                                         headers=header)  # fmt: skip
            assert (response.status_code, [e["code"] for e in response.json()["errors"]]) == (422, [code]), url
        public = await client.post(
            "/api/v1/webhooks",
            json={"url": "https://93.184.215.14/hook", "event_types": ["form.retired"]},
            headers=header,
        )
        assert public.status_code == 201, public.text
        # A loopback URL that got in (registered in development, say) is refused again before each attempt.
        await conn.execute(
            "INSERT INTO webhook_endpoint (agency_code, url, event_types, secret)"
            " VALUES ('MHLW', $1, $2, 'whsec_AA==')",
            receiver.url.replace("http:", "https:"), ["submission.received"],
        )  # fmt: skip
        await submit(client, conn)
        async with delivery.http_client(production) as http:
            outcome = await delivery.deliver_due(database, http, production, now)
        assert outcome == {"delivered": 0, "failed": 1, "dead": 0}
        error = await conn.fetchval("SELECT error FROM webhook_attempt")
        assert error == "refused: 127.0.0.1 is 127.0.0.1, not a public address"
        assert receiver.arrivals == []


async def test_every_address_of_a_name_is_checked() -> None:
    async def answers(host: str, port: int) -> list[Any]:
        table = {"mixed.example": ["8.8.8.8", "192.168.1.5"], "public.example": ["93.184.215.14", "2606:2800::1"]}
        return [(0, 0, 0, "", (address, port)) for address in table[host]]

    with pytest.raises(targets.TargetRefused, match=r"192\.168\.1\.5"):
        await targets.resolve("https://mixed.example/", development=False, resolver=answers)
    target = await targets.resolve("https://public.example:8443/x", development=False, resolver=answers)
    assert (target.host, target.port, target.address) == ("public.example", 8443, "93.184.215.14")
    assert (await targets.resolve("http://mixed.example/", development=True, resolver=answers)).address == "8.8.8.8"


def test_backoff_grows_with_jitter_within_its_bounds() -> None:
    assert delivery.backoff(1, 30, 3600, lambda: 0.0) == dt.timedelta(seconds=15)
    assert delivery.backoff(1, 30, 3600, lambda: 1.0) == dt.timedelta(seconds=30)
    assert delivery.backoff(4, 30, 3600, lambda: 1.0) == dt.timedelta(seconds=240)
    assert delivery.backoff(40, 30, 3600, lambda: 0.5) == dt.timedelta(seconds=2700)


@pytest.mark.parametrize("overrides", [{"webhook_seconds": 0}])  # the command is the only worker
async def test_shinsei_webhooks_deliver_is_a_worker_process_of_its_own(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens, receiver: Receiver, db: str
) -> None:
    header = await tokens.header("agency-admin", "MHLW")
    created = await register(client, header, receiver.url)
    submission = await submit(client, conn)
    assert (await withdraw(client, submission)).status_code == 200
    process = await asyncio.create_subprocess_exec(
        *SHINSEI, "webhooks", "deliver", env=env_for(db, SHINSEI_ENV="development"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    # The withdrawal waits for the receipt's delivery, then goes in the next batch of the same run.
    assert out.decode().strip() == "delivered 2, failed 0 (to be retried), dead 0"
    process = await asyncio.create_subprocess_exec(
        *SHINSEI, "webhooks", "deliver", env=env_for(db, SHINSEI_ENV="development"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert out.decode().strip() == "delivered 0, failed 0 (to be retried), dead 0"  # nothing twice
    assert [msgspec.json.decode(verified(a, created["secret"]) and a.body)["type"] for a in receiver.arrivals] == [
        "submission.received", "submission.withdrawn",
    ]  # fmt: skip


async def test_an_endpoint_deleted_mid_delivery_takes_only_its_own_record_with_it(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens, receiver: Receiver
) -> None:
    header = await tokens.header("agency-admin", "MHLW")
    created = await register(client, header, receiver.url, active=False)
    await conn.execute("UPDATE webhook_endpoint SET active = true")
    await submit(client, conn)
    [row] = await queries.claim_due(conn, now(), now() + dt.timedelta(minutes=1), 10)
    assert (await client.delete(f"/api/v1/webhooks/{created['webhook']['id']}", headers=header)).status_code == 204
    state = await queries.record_attempt(conn, row["id"], now(), 200, None, 5, now(), True, 3)
    assert state is None
    assert await conn.fetchval("SELECT count(*) FROM webhook_attempt") == 0


def tls_pair(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test CA and a server certificate for ``name``: the server's context, and a client's trusting that CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def certificate(subject: str, key: Any, issuer: str, signer: Any, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now() - dt.timedelta(hours=1))
            .not_valid_after(now() + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("shinsei test webhook CA", ca_key, "shinsei test webhook CA", ca_key, ca=True)
    leaf = certificate(name, key, "shinsei test webhook CA", ca_key, ca=False)
    (tmp_path / "server.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "server.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


@pytest.mark.parametrize("overrides", [{"webhook_seconds": 0}])
async def test_https_connects_to_the_checked_address_and_verifies_the_name(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens, settings: Settings,
    database: Database, tmp_path: Path,
) -> None:  # fmt: skip
    """The certificate is checked against the endpoint's name while the connection goes to the address checked."""
    server_tls, trusting = tls_pair(tmp_path, "ledger.test")
    receiver = Receiver()
    await receiver.start(tls=server_tls)
    looked_up: list[str] = []

    async def resolver(host: str, port: int) -> list[Any]:
        looked_up.append(host)  # a name only this test knows: the request cannot have resolved it itself
        return [(0, 0, 0, "", ("127.0.0.1", port))]

    try:
        header = await tokens.header("agency-admin", "MHLW")
        for name in ("ledger.test", "other.test"):
            await conn.execute(
                "INSERT INTO webhook_endpoint (agency_code, url, event_types, secret) VALUES ('MHLW', $1, $2, $3)",
                f"https://{name}:{receiver.port}/hooks", ["submission.received"], "whsec_" + "A" * 44,
            )  # fmt: skip
        assert (await client.get("/api/v1/webhooks", headers=header)).status_code == 200
        await submit(client, conn)
        async with delivery.http_client(settings, verify=trusting) as http:
            outcome = await delivery.deliver_due(database, http, settings, now, resolver=resolver)
    finally:
        await receiver.stop()
    assert outcome == {"delivered": 1, "failed": 1, "dead": 0}
    assert sorted(looked_up) == ["ledger.test", "other.test"]
    [arrival] = receiver.arrivals
    assert arrival.headers["host"] == f"ledger.test:{receiver.port}"
    error = await conn.fetchval(
        "SELECT a.error FROM webhook_attempt a JOIN webhook_delivery d ON d.id = a.delivery_id"
        " JOIN webhook_endpoint e ON e.id = d.endpoint_id WHERE e.url LIKE 'https://other.test%'"
    )
    assert error.startswith("ConnectError") and "certificate" in error  # the name is not the certificate's
