"""Fetching CRLs over HTTP(S), with a size limit: only from URLs an admin configured."""

from __future__ import annotations

import httpx

from service.trust.service import MAX_CRL_BYTES, FetchFailed


async def fetch_crl(url: str) -> bytes:
    try:
        async with (
            httpx.AsyncClient(timeout=30, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_CRL_BYTES:
                    raise FetchFailed(f"larger than {MAX_CRL_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPStatusError as exc:
        raise FetchFailed(f"HTTP {exc.response.status_code}") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(type(exc).__name__) from None


async def ask_ocsp(url: str, request: bytes, wait_seconds: float = 30) -> bytes:
    """POST an OCSP request (RFC 6960 appendix A.1) and return the response's bytes."""
    try:
        async with httpx.AsyncClient(timeout=wait_seconds, follow_redirects=False) as client:
            response = await client.post(url, content=request, headers={"Content-Type": "application/ocsp-request"})
            response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise FetchFailed(f"HTTP {exc.response.status_code}") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(type(exc).__name__) from None
    if len(response.content) > MAX_CRL_BYTES:
        raise FetchFailed("the response is too large")
    return response.content
