"""The syncs family's API function. Its routes arrive with their issue; until then every path is a 404."""

from functions.core.api import make_app, make_lambda_handler

app = make_app("syncs")

lambda_handler = make_lambda_handler(app, "syncs")
