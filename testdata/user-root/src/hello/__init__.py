import sys

import six


def main() -> None:
    print(f"hello from pycache (python {sys.version_info.major}.{sys.version_info.minor}, six {six.__version__})")
