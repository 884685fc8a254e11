"""HTML rendering for pip-app."""

from flask import render_template_string

PAGE = "<h1>{{ title }}</h1>{{ body | safe }}"


def render_page(title: str, body: str) -> str:
    return render_template_string(PAGE, title=title, body=body)
