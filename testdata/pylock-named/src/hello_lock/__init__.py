"""pycache demo: prints the versions of its locked dependencies."""

import idna
import six


def main() -> None:
    print(f"hello from pylock.toml (six {six.__version__}, idna {idna.__version__})")
