"""Shim for old pip (pip 9/18 on JetPack 4.6): all metadata lives in setup.cfg."""
from setuptools import setup

setup()
