"""The API's route table: which family's function serves which path.

Read by the CDK app (one HTTP API route per entry, integrated with the family's function) and by the
local gateway (the same matching rules as API Gateway: the most specific route wins). The families
themselves are listed in :mod:`functions.families`, which runtime code reads too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_P = "/api/v1/project/{projectid}"

ROUTES: dict[str, tuple[str, ...]] = {
    "auth": ("/signup", "/login", "/auth", "/logout", "/health", "/openapi.json"),
    "projects": (
        "/api/v1/project",
        _P,
        f"{_P}/members",
        f"{_P}/members/{{proxy+}}",
        f"{_P}/api-keys",
        f"{_P}/api-keys/{{proxy+}}",
    ),
    "connectors": (
        f"{_P}/sources",
        f"{_P}/sources/{{proxy+}}",
        f"{_P}/destinations",
        f"{_P}/destinations/{{proxy+}}",
        f"{_P}/source/{{proxy+}}",
    ),
    "jobs": (
        f"{_P}/jobs",
        f"{_P}/jobs/{{proxy+}}",
        "/api/v1/application/{proxy+}",
        "/api/ingest/jobs/{proxy+}",
    ),
    "syncs": (
        f"{_P}/syncs",
        f"{_P}/syncs/{{proxy+}}",
        "/api/ingestion/file/{proxy+}",
        "/api/lake/file/{proxy+}",
    ),
}

# Routes that need no credential (everything else authenticates in the handler).
PUBLIC_PATHS = ("/signup", "/login", "/health", "/openapi.json")


@dataclass(frozen=True)
class Route:
    family: str
    path: str  # API Gateway route path, e.g. /api/v1/project/{projectid}/jobs/{proxy+}

    @property
    def route_key(self) -> str:
        return f"ANY {self.path}"

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for seg in self.path.strip("/").split("/"):
            if seg.endswith("+}"):
                parts.append(".+")
            elif seg.startswith("{"):
                parts.append("[^/]+")
            else:
                parts.append(re.escape(seg))
        return re.compile("^/" + "/".join(parts) + "$")

    @property
    def specificity(self) -> tuple[int, int]:
        """Literal segments first, then fewer greedy segments (API Gateway's precedence)."""
        segs = self.path.strip("/").split("/")
        literal = sum(1 for s in segs if not s.startswith("{"))
        greedy = sum(1 for s in segs if s.endswith("+}"))
        return (literal, -greedy)


def all_routes() -> list[Route]:
    return [Route(family, path) for family, paths in ROUTES.items() for path in paths]


def match(path: str) -> Route | None:
    """The route API Gateway would pick for `path`, or None (API Gateway answers 404)."""
    candidates = [r for r in all_routes() if r.pattern.match(path)]
    return max(candidates, key=lambda r: r.specificity) if candidates else None
