"""``shinsei webhooks``: a delivery worker as a process of its own."""

from __future__ import annotations

from typing import Final

import click

from service.cli.common import settings


@click.group(name="webhooks")
def webhooks() -> None:
    """Webhook deliveries (the endpoints themselves are managed through /api/v1/webhooks)."""


@webhooks.command()
@click.option("--loop", is_flag=True, help="keep delivering every SHINSEI_WEBHOOK_SECONDS until interrupted")
def deliver(loop: bool) -> int:
    """Send the due deliveries, beside the servers' own workers or instead of them (SHINSEI_WEBHOOK_SECONDS=0).

    Workers claim deliveries with SKIP LOCKED, so any number of these may run on any machines.
    """
    import asyncio
    import datetime as dt

    from service.db import Database, create_pool
    from service.embedded import database_url
    from service.webhooks import delivery

    config = settings()

    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def work(dsn: str) -> dict[str, int]:
        pool = await create_pool(config, dsn)
        total = {"delivered": 0, "failed": 0, "dead": 0}
        try:
            async with delivery.http_client(config) as client:
                while True:
                    outcome = await delivery.deliver_due(Database(pool, config), client, config, now)
                    total = {k: total[k] + outcome[k] for k in total}
                    if not loop:
                        return total
                    click.echo(" ".join(f"{k}={v}" for k, v in outcome.items()), err=True)
                    await asyncio.sleep(config.webhook_seconds or 5.0)
        finally:
            await pool.close()

    with database_url(config) as dsn:
        total = asyncio.run(work(dsn))
    click.echo(f"delivered {total['delivered']}, failed {total['failed']} (to be retried), dead {total['dead']}")
    return 0


COMMANDS: Final = [webhooks]
