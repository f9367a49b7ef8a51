"""A process that makes `--calls` API requests under a `ClusterBudget` (for the budget test).

`python -m tests.distributed.budget_client TEMPORAL ENDPOINT LIMIT WINDOW LEASE CALLS`; the API
key comes from `MOVE_UGC_API_KEY`. Prints one JSON line and leaves through `os._exit`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys


async def main(
    temporal_address: str, endpoint: str, limit: int, window: float, lease: float, calls: int
) -> dict[str, int]:
    from temporalio.client import Client

    from aio_move_ugc import AsyncMoveUgc
    from aio_move_ugc.distributed import ClusterBudget

    temporal = await Client.connect(temporal_address)
    key = os.environ["MOVE_UGC_API_KEY"]
    budget = ClusterBudget(temporal, api_key=key, limit=limit, window=window, lease=lease)
    async with AsyncMoveUgc(key, endpoint_url=endpoint, rate_limit=budget) as ugc:
        await asyncio.gather(*(ugc.client.retrieve() for _ in range(calls)))
    return {"calls": calls, "asked_budget": budget.requests_to_budget}


if __name__ == "__main__":
    code = 0
    try:
        a = sys.argv[1:]
        outcome = asyncio.run(main(a[0], a[1], int(a[2]), float(a[3]), float(a[4]), int(a[5])))
        print(json.dumps(outcome), flush=True)
    except BaseException as exc:
        print(json.dumps({"error": repr(exc)}), flush=True)
        code = 1
    os._exit(code)
