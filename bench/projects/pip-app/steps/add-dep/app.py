"""pip-app: a small Flask app; running it renders one page in-process and exits (no server)."""

import io
from importlib.metadata import version

import flask
import humanize
import markdown
import requests
import yaml
from dotenv import dotenv_values
from packaging.version import Version

from pages import render_page

SMOKE = "pip-app smoke ok"

app = flask.Flask(__name__)
CONFIG = yaml.safe_load("title: pip-app\nbody: '*hello* from pip-app'")


@app.get("/")
def index() -> str:
    return render_page(CONFIG["title"], markdown.markdown(CONFIG["body"]))


def main() -> None:
    env = dotenv_values(stream=io.StringIO("MODE=bench\n"))
    # Build (but never send) an outgoing request: requests and its dependencies are importable.
    outgoing = requests.Request("GET", "https://example.com/", params={"mode": env["MODE"]}).prepare()
    with app.test_client() as client:
        page = client.get("/")
    assert page.status_code == 200, page.status_code
    size = humanize.naturalsize(len(page.get_data()))
    print(
        f"{SMOKE}: {page.get_data(as_text=True)} ({size}) -> {outgoing.url} "
        f"(flask {version('flask')}, flask 3+: {Version(version('flask')) >= Version('3')}, "
        f"requests {requests.__version__}, pyyaml {yaml.__version__}, humanize {humanize.__version__})"
    )


if __name__ == "__main__":
    main()
