"""Presigned-URL transfers: streamed uploads, ranged resumable downloads, output file naming."""

from ._common import Progress, TransferConfig, redact_url
from .download import download_url, part_paths
from .naming import OUTPUT_SUFFIXES, output_filename
from .upload import check_upload_source, upload_file

__all__ = [
    "OUTPUT_SUFFIXES",
    "Progress",
    "TransferConfig",
    "check_upload_source",
    "download_url",
    "output_filename",
    "part_paths",
    "redact_url",
    "upload_file",
]
