"""pycache demo: a script run from the source, with its locked dependencies."""

import click
import six


@click.command()
def main() -> None:
    click.echo(f"hello from a Poetry script (click {click.__version__}, six {six.__version__})")


if __name__ == "__main__":
    main()
