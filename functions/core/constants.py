"""Names and limits the functions share with the infrastructure (infra/ imports these, never the reverse)."""

# Prefixes of the data bucket (docs/architecture.md); every key under them carries the project id next.
UPLOADS_PREFIX = "uploads/"
LAKE_PREFIX = "lake/"
TRASH_PREFIX = "trash/"
LOGS_PREFIX = "logs/"
REJECTS_PREFIX = "rejects/"
# The Distributed Map's ResultWriter output (its children's results): written by Step Functions, read by
# nothing (each unit's result is under logs/ already), expired by a lifecycle rule. No project id.
MAP_RESULTS_PREFIX = "map-results/"
MAP_RESULTS_EXPIRATION_DAYS = 7

# Limits (OWASP API4), also stated in docs/api.md and the OpenAPI document.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
# Every answer is bounded by construction below Lambda's 6 MiB response limit: a list page holds at most
# MAX_PAGE_SIZE items and stops early at MAX_PAGE_BYTES of JSON (next_cursor goes on from there); a single
# object is a stored record (DynamoDB items are at most 400 KB) plus summaries of fixed size.
MAX_PAGE_BYTES = 4 * 1024 * 1024
INGEST_FILES_PER_TABLE = 100  # an ingest job (Amperity's dialect) lists each table's first files, no more
MAX_NAME_LENGTH = 128
