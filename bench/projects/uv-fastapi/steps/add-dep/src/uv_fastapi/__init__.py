"""uv-fastapi: a FastAPI service. `uv-fastapi` answers two requests in-process (no server, no
socket), checks that uvicorn loads its compiled HTTP parser, and prints the versions it runs on."""

import asyncio

import fastapi
import httpx
import orjson
import pydantic
import uvicorn

from uv_fastapi.app import create_app

SMOKE = "uv-fastapi smoke ok"


async def call(app: fastapi.FastAPI) -> dict:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://uv-fastapi") as client:
        health = await client.get("/health")
        health.raise_for_status()
        order = {"customer": "ops@example.com", "items": ["a", "b", "c"], "unit_price": 2.5}
        receipt = await client.post("/orders", json=order)
        receipt.raise_for_status()
    return receipt.json()


def main() -> None:
    app = create_app()
    # What `uvicorn` would serve with: the httptools parser and uvloop, loaded but never bound.
    config = uvicorn.Config(app, http="httptools", loop="uvloop")
    config.load()
    receipt = asyncio.run(call(app))
    # The receipt as the service's event log would record it.
    event = orjson.dumps({"event": "order", **receipt}, option=orjson.OPT_SORT_KEYS)
    print(
        f"{SMOKE}: {receipt['count']} items, total {receipt['total']} for {receipt['customer']} "
        f"(fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, "
        f"pydantic {pydantic.VERSION}, httpx {httpx.__version__}, orjson {orjson.__version__})"
    )
    print(event.decode())
