"""The FastAPI application."""

import jinja2
from fastapi import FastAPI

TEMPLATE = jinja2.Template("{{ greeting }} from {{ title }} ({{ token | length }}-char token)")


def create_app(title: str, greeting: str) -> FastAPI:
    app = FastAPI(title=title)

    @app.get("/")
    def index(token: str) -> dict[str, str]:
        return {"message": TEMPLATE.render(greeting=greeting, title=title, token=token)}

    return app
