"""Audit events (stands in for the event store) and their CSV rendering."""

import asyncio


def fetch_page(cursor, page_size):
    return [{"id": i, "actor": f"user-{i % 7}", "action": "login" if i % 3 else "logout"}
            for i in range(cursor, cursor + page_size)]


async def render_row(event):
    # Each row resolves the actor's display name over the network: about a millisecond.
    await asyncio.sleep(0.001)
    return f"{event['id']},{event['actor']},{event['action']}"
