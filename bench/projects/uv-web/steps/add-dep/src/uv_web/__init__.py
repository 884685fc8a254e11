"""uv-web: a small FastAPI app. `uv-web` renders a page through the app in-process and exits."""

import asyncio
import io

import click
import fastapi
import httpx
import humanize
import itsdangerous
import jinja2
import yaml
from dotenv import dotenv_values
from pydantic import BaseModel

from uv_web.app import create_app

SMOKE = "uv-web smoke ok"


class Settings(BaseModel):
    title: str
    greeting: str


async def fetch(app: fastapi.FastAPI, token: str) -> httpx.Response:
    """Call the app in-process through httpx's ASGI transport: no server, no socket."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://uv-web") as client:
        response = await client.get("/", params={"token": token})
    response.raise_for_status()
    return response


def main() -> None:
    settings = Settings(**yaml.safe_load("title: uv-web\ngreeting: hello"))
    env = dotenv_values(stream=io.StringIO("MODE=bench\n"))
    token = itsdangerous.URLSafeSerializer("bench").dumps({"mode": env["MODE"]})
    app = create_app(settings.title, settings.greeting)
    page = asyncio.run(fetch(app, token))
    size = humanize.naturalsize(len(page.content))
    click.echo(
        f"{SMOKE}: {page.json()['message']}, {size} "
        f"(fastapi {fastapi.__version__}, httpx {httpx.__version__}, jinja2 {jinja2.__version__}, humanize {humanize.__version__})"
    )
