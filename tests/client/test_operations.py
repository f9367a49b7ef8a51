"""Every GraphQL document the SDK can send is valid against the shipped schema."""

from __future__ import annotations

from functools import cache

import pytest
from graphql import DocumentNode, OperationDefinitionNode, OperationType, parse, validate

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc._schema import load_schema
from aio_move_ugc._schema.operations import (
    SPECS,
    Operation,
    all_documents,
    expand_words,
    job_batch,
    operation,
    volume_batch,
)
from aio_move_ugc.emulator import Emulator

from .support import singlecam_take

CREATING = {
    "CreateFile": "file",
    "CreateSingleCamTake": "take",
    "CreateMultiCamTake": "take",
    "CreateSingleCamJob": "job",
    "CreateMultiCamJob": "job",
    "CreateVolumeWithHuman": "volume",
}


@cache
def _parsed(document: str) -> DocumentNode:
    return parse(document)


def _definition(op: Operation) -> OperationDefinitionNode:
    (definition,) = _parsed(op.document).definitions
    assert isinstance(definition, OperationDefinitionNode)
    return definition


def _problems(op: Operation) -> list[str]:
    return [error.message for error in validate(load_schema(), _parsed(op.document))]


@pytest.mark.parametrize("op", all_documents(), ids=lambda op: f"{op.name}:{len(op.document)}")
def test_document_is_valid_against_the_schema(op: Operation) -> None:
    assert _problems(op) == []
    definition = _definition(op)
    assert definition.name is not None
    assert definition.name.value == op.name
    roots = [sel.name.value for sel in definition.selection_set.selections]  # type: ignore[attr-defined]
    assert roots == [op.root]


def test_all_documents_covers_every_expand_combination() -> None:
    expected = sum(2 ** len(expand_words(name)) for name in SPECS)
    documents = {op.document for op in all_documents()}
    assert len(documents) == expected


def test_every_root_field_of_the_schema_has_an_operation() -> None:
    schema = load_schema()
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    fields = set(schema.query_type.fields) | set(schema.mutation_type.fields)
    assert {spec.root for spec in SPECS.values()} == fields


def test_create_mutations_say_what_they_create() -> None:
    plain = [operation(name) for name in SPECS]
    assert {op.name: op.creates for op in plain if op.creates} == CREATING
    for op in plain:
        if op.creates:
            assert _definition(op).operation is OperationType.MUTATION


def test_job_batch_of_fifty_is_valid() -> None:
    ids = [f"job-{i:08d}" for i in range(50)]
    for with_outputs in (True, False):
        op = job_batch(ids, with_outputs=with_outputs)
        assert _problems(op) == []
        assert len(_definition(op).selection_set.selections) == 50
        assert len(_definition(op).variable_definitions) == 50


@pytest.mark.parametrize("count", [1, 2, 50])
def test_volume_batch_is_valid(count: int) -> None:
    op = volume_batch([f"volume-{i}" for i in range(count)])
    assert _problems(op) == []
    assert len(_definition(op).selection_set.selections) == count


def test_unknown_expand_word_is_refused_by_the_builder() -> None:
    with pytest.raises(ValueError, match="cannot expand"):
        operation("GetJob", frozenset({"nonsense"}))
    with pytest.raises(ValueError, match="takes no expand"):
        operation("GetClient", frozenset({"client"}))


async def test_job_batch_fetches_many_jobs_in_one_request(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    take = await singlecam_take(ugc)
    jobs = [await ugc.jobs.create_singlecam(take.id) for _ in range(3)]
    ids = [job.id for job in jobs]
    requests = emu.stats.graphql_requests
    data = await ugc._ctx.execute(job_batch(ids), {f"j{i}": job_id for i, job_id in enumerate(ids)})
    assert emu.stats.graphql_requests - requests == 1
    assert [data[f"j{i}"]["id"] for i in range(3)] == ids
    assert emu.stats.root_fields["getJob"] == 3
