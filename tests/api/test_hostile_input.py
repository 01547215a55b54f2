"""Hostile input: deep nesting, wrong encodings, pathological patterns, too many parts, repeated signatures."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests import pki
from tests.api.test_submissions import count, document, new_nonce, parts
from tests.conftest import Tokens
from tests.forms.helpers import field, schema_data

BASE = "https://shinsei.example/problems/"
VALIDATE = "/api/v1/forms/t-overtime/versions/1/validate"


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.pop("instance").startswith("urn:uuid:")
    return body


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


TOO_DEEP = {
    "type": BASE + "too-deep",
    "title": "The document is nested too deeply.",
    "status": 400,
    "errors": [{"code": "depth", "detail": "nested more than 64 levels deep", "pointer": ""}],
}


@pytest.mark.parametrize("depth", [65, 5_000, 150_000])
async def test_deep_json_bodies_are_400_naming_the_limit(
    client: AsyncTestClient[Litestar], tokens: Tokens, depth: int
) -> None:
    admin = await tokens.header("admin")
    json = {"Content-Type": "application/json"}
    for path in ("/api/v1/procedures", "/api/v1/tokens", "/api/v1/forms"):
        response = await client.post(path, content=nested(depth), headers=admin | json)
        assert problem(response, 400) == TOO_DEEP | {"detail": "The body is nested more than 64 levels deep."}


async def test_deep_answers_and_documents(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    deep_answers = b'{"form_id": "t-overtime", "form_version": 1, "answers": ' + nested(5_000) + b"}"
    detail = "The document is nested more than 64 levels deep."
    as_text = {"Content-Type": "text/plain"}  # not JSON by its type: the validate route checks it itself
    response = await client.post(VALIDATE, content=deep_answers, headers=as_text)
    assert problem(response, 400) == TOO_DEEP | {"detail": detail}
    before = await count(conn)
    response = await client.post("/api/v1/submissions", files=parts(deep_answers, [b"x"]))
    assert problem(response, 400) == TOO_DEEP | {"detail": detail}
    assert await count(conn) == before
    # 64 levels are still read (and found wrong for this form, as any odd answer would be).
    within = b'{"form_id": "t-overtime", "form_version": 1, "answers": {"x": ' + nested(62) + b"}}"
    assert (await client.post(VALIDATE, content=within)).status_code == 422


async def test_non_utf8_is_400_malformed_body(client: AsyncTestClient[Litestar], admin: dict[str, str]) -> None:
    latin1 = '{"form_id": "t-overtime", "form_version": 1, "answers": {"applicant_name": "José"}}'.encode("latin-1")
    shift_jis = '{"form_id": "t-overtime", "form_version": 1, "answers": {"applicant_name": "山田"}}'.encode(
        "shift_jis"
    )
    for raw in (latin1, shift_jis):
        body = problem(await client.post(VALIDATE, content=raw, headers={"Content-Type": "text/plain"}), 400)
        assert body["type"] == BASE + "malformed-body"
        assert body["detail"].startswith("The document is not UTF-8: byte ")
        assert [e["code"] for e in body["errors"]] == ["encoding"]
        body = problem(await client.post("/api/v1/submissions", files=parts(raw, [b"x"])), 400)
        assert body["type"] == BASE + "malformed-body"
    response = await client.post(
        "/api/v1/procedures", content=latin1, headers=admin | {"Content-Type": "application/json"}
    )
    assert problem(response, 400)["type"] == BASE + "malformed-body"


async def test_deep_and_nested_yaml_schemas(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mhlw = await tokens.header("agency-admin", "MHLW")
    yaml = {"Content-Type": "application/yaml"}
    started = time.monotonic()
    response = await client.post("/api/v1/forms", content=b"a: " + b"[" * 200_000, headers=mhlw | yaml)
    assert time.monotonic() - started < 5  # 332 s before the depth limit
    assert problem(response, 422)["errors"] == [
        {"code": "depth", "detail": "nested more than 64 levels deep", "pointer": ""}
    ]
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(70)).encode()
    assert (
        problem(await client.post("/api/v1/forms", content=block, headers=mhlw | yaml), 422)["errors"][0]["code"]
        == "depth"
    )


PATHOLOGICAL = "(a+)+$"


async def test_patterns_run_in_linear_time(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mhlw = await tokens.header("agency-admin", "MHLW")
    schema = schema_data(field("code", "text", pattern=PATTERNS_OK[0]), field("word", "text", pattern=PATHOLOGICAL))
    schema |= {"id": "t-redos", "procedure": "mhlw-36-agreement"}
    assert (await client.post("/api/v1/forms", json=schema, headers=mhlw)).status_code == 201
    assert (await client.post("/api/v1/forms/t-redos/draft/publish", headers=mhlw)).status_code == 200
    url = "/api/v1/forms/t-redos/versions/1/validate"
    for length in (30, 5_000, 100_000):  # Python's re: 4 s at 25 characters, x2.5 per extra one
        hostile = {"form_id": "t-redos", "form_version": 1, "answers": {"code": "A-1", "word": "a" * length + "!"}}
        started = time.monotonic()
        response = await client.post(url, json=hostile)
        took = time.monotonic() - started
        assert took < 0.5, (length, took)
        assert problem(response, 422)["errors"] == [
            {"code": "pattern", "detail": f"must match the pattern {PATHOLOGICAL!r}", "pointer": "/answers/word"}
        ]
    fine = {"form_id": "t-redos", "form_version": 1, "answers": {"code": "A-1", "word": "aaaa"}}
    assert (await client.post(url, json=fine)).json()["valid"] is True
    wrong = fine | {"answers": {"code": "a-1", "word": "aaaa"}}
    assert problem(await client.post(url, json=wrong), 422)["errors"][0]["pointer"] == "/answers/code"


PATTERNS_OK = ["^[A-Z]-[0-9]+$", "[ぁ-ん]+", "^(?:ab|cd){2,5}$"]
PATTERNS_REFUSED = {
    "(a)\\1": "RE2 (linear-time matching) cannot use this pattern: invalid escape sequence: \\1",
    "a(?=b)": "RE2 (linear-time matching) cannot use this pattern: invalid perl operator: (?=",
    "(?P<x>a)": "named groups (?P<name>…) are not JSON Schema (ECMA-262) syntax",
    "(?i)abc": "inline flags are not JSON Schema (ECMA-262) syntax",
    "abc\\z": "\\z is not JSON Schema (ECMA-262) syntax; use $",
}


async def test_patterns_re2_cannot_run_are_refused_with_a_pointer(
    client: AsyncTestClient[Litestar], tokens: Tokens
) -> None:
    mhlw = await tokens.header("agency-admin", "MHLW")
    fields = [field(f"f{i}", "text", pattern=p) for i, p in enumerate([*PATTERNS_OK, *PATTERNS_REFUSED])]
    schema = schema_data(*fields) | {"id": "t-patterns", "procedure": "mhlw-36-agreement"}
    body = problem(await client.post("/api/v1/forms", json=schema, headers=mhlw), 422)
    assert body["type"] == BASE + "schema-invalid"
    first = len(PATTERNS_OK)
    assert body["errors"] == [
        {"code": "pattern", "detail": detail, "pointer": f"/sections/0/fields/{first + i}/pattern"}
        for i, detail in enumerate(PATTERNS_REFUSED.values())
    ]


def many_parts(count: int) -> bytes:
    boundary = "b0undary"
    chunks = [f'--{boundary}\r\nContent-Disposition: form-data; name="signature"\r\n\r\nx{i}\r\n' for i in range(count)]
    return ("".join(chunks) + f"--{boundary}--\r\n").encode()


@pytest.mark.parametrize("count_", [101, 1_001, 5_000])
async def test_too_many_parts_has_its_own_problem(client: AsyncTestClient[Litestar], count_: int) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    response = await client.post("/api/v1/submissions", content=many_parts(count_), headers=headers)
    assert problem(response, 413) == {
        "type": BASE + "too-many-parts",
        "title": "The multipart body has too many parts.",
        "status": 413,
        "detail": "A submission has at most 100 parts.",
    }


async def test_a_signature_sent_50_times_is_refused_not_stored_50_times(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    doc = document(await new_nonce(client))
    signature = pki.sign_openssl("applicant", doc)
    before = await count(conn)
    body = problem(await client.post("/api/v1/submissions", files=parts(doc, [signature] * 50)), 422)
    assert body["type"] == BASE + "validation"
    assert body["detail"] == "49 signature part(s) repeat another; send each signature once."
    assert body["errors"][0] == {
        "code": "duplicate",
        "detail": "signature part 2 repeats part 1",
        "parameter": "signature[1]",
        "pointer": "",
    }
    assert await count(conn) == before
    assert (await client.post("/api/v1/submissions", files=parts(doc, [signature]))).status_code == 201
