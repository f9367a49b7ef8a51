"""Every GraphQL document the SDK sends, built from fixed field sets and the caller's `expand`.

Documents are plain strings assembled from the pieces below; `all_documents()` enumerates every
variant so the test suite can validate each one against the shipped schema. Nothing here talks
to the network or introspects anything at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations

FILE_FIELDS = "id created type name metadata presignedUrl thumbnailUrl"
CLIENT_FIELDS = "id name created metadata portal"
PROGRESS_FIELDS = "progress { state percentageComplete }"
CLIP_WINDOW_FIELDS = "clipWindow { startTime endTime }"
SOURCE_FIELDS = f"deviceLabel format cameraSettings {{ lens }} file {{ {FILE_FIELDS} }}"
OUTPUT_FIELDS = f"key format file {{ {FILE_FIELDS} }}"
VOLUME_FIELDS = f"id created name metadata areaType humanHeight state {PROGRESS_FIELDS}"
TAKE_FIELDS = "id created name metadata takeType"
JOB_FIELDS = f"id created name metadata state {PROGRESS_FIELDS}"

EXPANSIONS: dict[str, dict[str, str]] = {
    "file": {"client": f"client {{ {CLIENT_FIELDS} }}"},
    "take": {
        "client": f"client {{ {CLIENT_FIELDS} }}",
        "sources": f"sources {{ {SOURCE_FIELDS} }} videoFile {{ {FILE_FIELDS} }}",
        "volume": f"volume {{ ... on HumanVolume {{ {VOLUME_FIELDS} }} }}",
    },
    "job": {
        "client": f"client {{ {CLIENT_FIELDS} }}",
        "take": f"take {{ {TAKE_FIELDS} }}",
        "outputs": f"outputs {{ {OUTPUT_FIELDS} }}",
        "rig": "rig { name }",
        "inputs": (
            f"inputs {{ {CLIP_WINDOW_FIELDS} numberOfActors options "
            "{ floorPlane mocapModel trackBall trackFingers trackJerseyNumbers } }"
        ),
    },
    "volume": {
        "client": f"client {{ {CLIENT_FIELDS} }}",
        "sources": f"sources {{ {SOURCE_FIELDS} }}",
        "outputs": f"outputs {{ {OUTPUT_FIELDS} }}",
        "clipWindow": CLIP_WINDOW_FIELDS,
    },
}
"""What each `expand=` word adds to the selection, per kind of object."""

BASE_FIELDS = {
    "file": FILE_FIELDS,
    "take": TAKE_FIELDS,
    "job": JOB_FIELDS,
    "volume": VOLUME_FIELDS,
}


@dataclass(frozen=True)
class Operation:
    """One GraphQL operation: its name, document, the root field to read, what it creates."""

    name: str
    document: str
    root: str
    creates: str | None = None
    """For mutations that create a record: the kind of record, e.g. "job"."""


def selection(kind: str, expand: frozenset[str]) -> str:
    extra = " ".join(EXPANSIONS[kind][word] for word in sorted(expand))
    return f"{BASE_FIELDS[kind]} {extra}".strip()


def _volume_selection(expand: frozenset[str]) -> str:
    return f"... on HumanVolume {{ {selection('volume', expand)} }}"


@dataclass(frozen=True)
class _Spec:
    kind: str  # "query" | "mutation"
    name: str
    root: str
    variables: str
    arguments: str
    object_kind: str | None  # kind of object selected (for expand); None: fixed selection
    fixed_selection: str = ""
    page: bool = False
    creates: str | None = None


SPECS: dict[str, _Spec] = {
    spec.name: spec
    for spec in (
        _Spec("query", "GetClient", "client", "", "", None, CLIENT_FIELDS),
        _Spec(
            "mutation",
            "UpdateClient",
            "updateClient",
            "$metadata: AWSJSON!",
            "metadata: $metadata",
            None,
            CLIENT_FIELDS,
        ),
        _Spec("query", "GetFile", "getFile", "$fileId: ID!", "fileId: $fileId", "file"),
        _Spec(
            "mutation",
            "CreateFile",
            "createFile",
            "$type: String!, $metadata: AWSJSON, $name: String",
            "type: $type, metadata: $metadata, name: $name",
            "file",
            creates="file",
        ),
        _Spec(
            "mutation",
            "UpdateFile",
            "updateFile",
            "$id: String!, $metadata: AWSJSON, $name: String",
            "id: $id, metadata: $metadata, name: $name",
            "file",
        ),
        _Spec(
            "mutation",
            "GenerateShareCode",
            "generateShareCode",
            "$fileId: String!",
            "fileId: $fileId",
            None,
            "code created expires url file { id }",
        ),
        _Spec("query", "GetTake", "getTake", "$takeId: ID!", "takeId: $takeId", "take"),
        _Spec(
            "mutation",
            "CreateSingleCamTake",
            "createSingleCamTake",
            "$sources: [SourceInput!], $metadata: AWSJSON, $name: String",
            "sources: $sources, metadata: $metadata, name: $name",
            "take",
            creates="take",
        ),
        _Spec(
            "mutation",
            "CreateMultiCamTake",
            "createMultiCamTake",
            "$volumeId: String!, $sources: [SourceInput!], $syncMethod: SyncMethodInput, "
            "$metadata: AWSJSON, $name: String",
            "volumeId: $volumeId, sources: $sources, syncMethod: $syncMethod, "
            "metadata: $metadata, name: $name",
            "take",
            creates="take",
        ),
        _Spec(
            "mutation",
            "UpdateTake",
            "updateTake",
            "$id: String!, $metadata: AWSJSON, $name: String",
            "id: $id, metadata: $metadata, name: $name",
            "take",
        ),
        _Spec(
            "query",
            "ListTakes",
            "listTakes",
            "$first: Int, $after: AWSJSON, $sortDirection: SortDirection",
            "first: $first, after: $after, sortDirection: $sortDirection",
            "take",
            page=True,
        ),
        _Spec("query", "GetJob", "getJob", "$jobId: ID!", "jobId: $jobId", "job"),
        _Spec(
            "mutation",
            "CreateSingleCamJob",
            "createSingleCamJob",
            "$takeId: String!, $clipWindow: ClipWindowInput, $metadata: AWSJSON, $name: String, "
            "$options: OptionsInput, $outputs: [OutputType]",
            "takeId: $takeId, clipWindow: $clipWindow, metadata: $metadata, name: $name, "
            "options: $options, outputs: $outputs",
            "job",
            creates="job",
        ),
        _Spec(
            "mutation",
            "CreateMultiCamJob",
            "createMultiCamJob",
            "$takeId: String!, $clipWindow: ClipWindowInput, $metadata: AWSJSON, $name: String, "
            "$numberOfActors: Int, $options: OptionsInput, $outputs: [OutputType], $rig: String",
            "takeId: $takeId, clipWindow: $clipWindow, metadata: $metadata, name: $name, "
            "numberOfActors: $numberOfActors, options: $options, outputs: $outputs, rig: $rig",
            "job",
            creates="job",
        ),
        _Spec(
            "mutation",
            "UpdateJob",
            "updateJob",
            "$id: String!, $metadata: AWSJSON, $name: String",
            "id: $id, metadata: $metadata, name: $name",
            "job",
        ),
        _Spec(
            "query",
            "ListJobs",
            "listJobs",
            "$first: Int, $after: AWSJSON, $sortDirection: SortDirection, $takeId: String",
            "first: $first, after: $after, sortDirection: $sortDirection, takeId: $takeId",
            "job",
            page=True,
        ),
        _Spec("query", "GetVolume", "getVolume", "$id: ID!", "id: $id", "volume"),
        _Spec(
            "mutation",
            "CreateVolumeWithHuman",
            "createVolumeWithHuman",
            "$sources: [SourceInput!], $humanHeight: Float!, $areaType: AreaType!, "
            "$clipWindow: ClipWindowInput, $syncMethod: SyncMethodInput, $metadata: AWSJSON, "
            "$name: String",
            "sources: $sources, humanHeight: $humanHeight, areaType: $areaType, "
            "clipWindow: $clipWindow, syncMethod: $syncMethod, metadata: $metadata, name: $name",
            "volume",
            creates="volume",
        ),
        _Spec(
            "query",
            "ListVolumes",
            "listVolumes",
            "$first: Int, $after: AWSJSON, $sortDirection: SortDirection",
            "first: $first, after: $after, sortDirection: $sortDirection",
            "volume",
            page=True,
        ),
        _Spec(
            "mutation",
            "UpsertWebhookEndpoint",
            "upsertWebhookEndpoint",
            "$uid: String!, $url: String!, $events: [String!], $description: String, "
            "$metadata: AWSJSON, $secret: String",
            "uid: $uid, url: $url, events: $events, description: $description, "
            "metadata: $metadata, secret: $secret",
            None,
            "uid url events description metadata secret",
        ),
        _Spec("query", "ListRigs", "listRigs", "", "", None, "first after items { name }"),
        _Spec(
            "query",
            "ListCameraSettings",
            "listCameraSettings",
            "",
            "",
            None,
            "first after items { lens }",
        ),
    )
}


@cache
def operation(name: str, expand: frozenset[str] = frozenset()) -> Operation:
    """The operation `name` with the `expand` words folded into its selection (cached)."""
    spec = SPECS[name]
    if spec.object_kind is None:
        if expand:
            raise ValueError(f"{name} takes no expand")
        fields = spec.fixed_selection
    else:
        unknown = expand - EXPANSIONS[spec.object_kind].keys()
        if unknown:
            raise ValueError(f"{name} cannot expand {sorted(unknown)}")
        if spec.object_kind == "volume":
            fields = _volume_selection(expand)
        else:
            fields = selection(spec.object_kind, expand)
        if spec.page:
            fields = f"first after items {{ {fields} }}"
    variables = f"({spec.variables})" if spec.variables else ""
    arguments = f"({spec.arguments})" if spec.arguments else ""
    document = f"{spec.kind} {spec.name}{variables} {{ {spec.root}{arguments} {{ {fields} }} }}"
    return Operation(name=spec.name, document=document, root=spec.root, creates=spec.creates)


def expand_words(name: str) -> frozenset[str]:
    """The `expand=` words operation `name` accepts."""
    kind = SPECS[name].object_kind
    return frozenset(EXPANSIONS[kind]) if kind else frozenset()


def all_documents() -> list[Operation]:
    """Every operation with every combination of its expand words (for schema validation)."""
    result = []
    for name in SPECS:
        words = sorted(expand_words(name))
        for size in range(len(words) + 1):
            for combo in combinations(words, size):
                result.append(operation(name, frozenset(combo)))
    return result


def job_batch(job_ids: list[str], *, with_outputs: bool = True) -> Operation:
    """One query that fetches many jobs at once through aliases (`j0: getJob(...)`)."""
    fields = selection("job", frozenset({"outputs"}) if with_outputs else frozenset())
    variables = ", ".join(f"$j{i}: ID!" for i in range(len(job_ids)))
    body = " ".join(f"j{i}: getJob(jobId: $j{i}) {{ {fields} }}" for i in range(len(job_ids)))
    return Operation(name="GetJobs", document=f"query GetJobs({variables}) {{ {body} }}", root="")


def volume_batch(volume_ids: list[str]) -> Operation:
    """One query that fetches many volumes at once through aliases (`v0: getVolume(...)`)."""
    fields = _volume_selection(frozenset())
    variables = ", ".join(f"$v{i}: ID!" for i in range(len(volume_ids)))
    body = " ".join(f"v{i}: getVolume(id: $v{i}) {{ {fields} }}" for i in range(len(volume_ids)))
    return Operation(
        name="GetVolumes", document=f"query GetVolumes({variables}) {{ {body} }}", root=""
    )
