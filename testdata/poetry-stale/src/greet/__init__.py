"""pycache demo: prints the versions of its dependencies."""

import idna
import six


def main() -> None:
    print(f"hello from greet (six {six.__version__}, idna {idna.__version__})")
