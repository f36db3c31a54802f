"""The jobs family: one router per dialect it speaks, joined in one resolver. Jobs and their runs
(native dialect), applications (Gathr's application dialect) and ingest jobs (Amperity's dialect)."""

from __future__ import annotations

from functions.core.api import make_app, make_lambda_handler

from . import amperity_routes, gathr_routes, native_routes

app = make_app("jobs")
app.include_router(native_routes.router)
app.include_router(gathr_routes.router)
app.include_router(amperity_routes.router)

lambda_handler = make_lambda_handler(app, "jobs")
__all__ = ["app", "lambda_handler"]
