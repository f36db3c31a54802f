"""The function families: one Lambda function (and one package under functions/) per family.

Runtime code needs the list (the merged OpenAPI document is built from every API family's resolver) and so
does the infrastructure (one function per family, one route table entry per API family). It lives here,
under functions/, because runtime code never imports infra/; infra/ imports it from here.
"""

from __future__ import annotations

# The families behind the HTTP API.
FAMILIES = ("auth", "projects", "connectors", "jobs", "syncs")
# Functions that are not behind the API.
WORKERS = ("ingest", "workflow")
