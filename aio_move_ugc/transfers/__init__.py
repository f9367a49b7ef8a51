"""Presigned-URL transfers: streamed uploads, ranged resumable downloads, output downloads,
safe names, and the one storage boundary (`storage.StorageWire`)."""

from .config import Progress, TransferConfig
from .download import check_destination, download_url, part_paths
from .naming import OUTPUT_SUFFIXES, output_filename, safe_name
from .storage import redact_url
from .upload import check_upload_source, upload_file, upload_new_file

__all__ = [
    "OUTPUT_SUFFIXES",
    "Progress",
    "TransferConfig",
    "check_destination",
    "check_upload_source",
    "download_url",
    "output_filename",
    "part_paths",
    "redact_url",
    "safe_name",
    "upload_file",
    "upload_new_file",
]
