"""Package discovery, the one thing pyproject.toml cannot say: every package under ttrec/,
recorder/ and replayer/ (found, never listed by hand) plus ttrec.samples, which is the
directory captures/ (see [tool.setuptools] package-dir). The rest is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["ttrec", "ttrec.*", "recorder", "recorder.*", "replayer", "replayer.*"]),
        "ttrec.samples",
    ]
)
