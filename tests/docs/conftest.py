"""The documentation is tested: its code runs, its site builds, its reference is complete."""

pytest_plugins = ["pytester"]
