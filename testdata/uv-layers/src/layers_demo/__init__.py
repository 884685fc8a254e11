"""Imports every dependency and reports what the environment holds."""

import importlib.metadata
import os
import sys
import sysconfig


def main() -> None:
    import click
    import docopt
    import greenlet
    import pygments
    import requests
    import setuptools
    import socks
    import zope.event
    import zope.interface

    names = sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions())
    scripts = sysconfig.get_path("scripts")
    headers = os.path.join(sys.prefix, "include", "site", f"python{sys.version_info[0]}.{sys.version_info[1]}", "greenlet")
    print(f"layers-demo: {len(names)} distributions: {' '.join(names)}")
    print(f"pygmentize: {os.path.exists(os.path.join(scripts, 'pygmentize'))}")
    print(f"greenlet headers: {os.path.isdir(headers)}")
    print(f"docopt {docopt.__version__}, greenlet {greenlet.__version__}, zope.event {zope.event.__name__}")
    print(f"click {click.__name__}, requests {requests.__version__}, socks {socks.__version__}")
    print(f"pygments {pygments.__version__}, setuptools {setuptools.__version__}, zope.interface {zope.interface.__name__}")
