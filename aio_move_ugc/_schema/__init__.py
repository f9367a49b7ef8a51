"""The shipped copy of the Move UGC schema and every GraphQL document the SDK sends."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphql import GraphQLSchema

SCHEMA_RESOURCE = "schema.graphql"


@cache
def schema_sdl() -> str:
    """The schema as SDL text, read once from the package."""
    return files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


@cache
def load_schema() -> GraphQLSchema:
    """The schema built once per process (used by the emulator and by document checks).

    graphql-core is imported here, not at the top: the client only sends prepared documents,
    and importing graphql-core made `import aio_move_ugc` about a fifth slower.
    """
    from graphql import build_schema

    return build_schema(schema_sdl())
