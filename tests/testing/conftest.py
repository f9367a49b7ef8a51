"""The testing kit is tested the way a user meets it, through pytest itself."""

pytest_plugins = ["pytester"]
