"""poetry-app: a small service-style CLI. `poetry-app` stores and reads a record and exits."""

import datetime
import logging

import humanize
import pydantic
import requests
import sqlalchemy
import structlog
import tenacity
import typer
from dateutil import relativedelta
from rich.console import Console

from poetry_app.app import Store

SMOKE = "poetry-app smoke ok"


class Event(pydantic.BaseModel):
    name: str
    at: datetime.datetime


@tenacity.retry(stop=tenacity.stop_after_attempt(3))
def record(store: Store, event: Event) -> int:
    return store.add(event.name, event.at)


def run() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    log = structlog.get_logger()
    store = Store()
    start = datetime.datetime(2024, 1, 31)
    event = Event(name="bench", at=start + relativedelta.relativedelta(months=1))
    count = record(store, event)
    prepared = requests.Request("GET", "http://poetry-app.invalid/", params={"n": count}).prepare()
    log.debug("stored", url=prepared.url)
    Console(soft_wrap=True).print(
        f"{SMOKE}: {store.names()} at {event.at:%Y-%m-%d}, {humanize.intcomma(1234567)} bytes "
        f"(sqlalchemy {sqlalchemy.__version__}, pydantic {pydantic.VERSION}, requests {requests.__version__})"
    )


def main() -> None:
    typer.run(run)
