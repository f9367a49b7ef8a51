"""The shipped copy of the Move UGC schema and every GraphQL document the SDK sends."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from graphql import GraphQLSchema, build_schema

SCHEMA_RESOURCE = "schema.graphql"


@cache
def schema_sdl() -> str:
    """The schema as SDL text, read once from the package."""
    return files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


@cache
def load_schema() -> GraphQLSchema:
    """The schema built once per process (used by the emulator and by document checks)."""
    return build_schema(schema_sdl())
