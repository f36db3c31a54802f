"""The console's build: the initial load stays under 250 KB of gzipped JS and CSS, and the typed API
client calls only operations the OpenAPI document describes (the build also type-checks the client
against types generated from that document: `npm run build` runs `gen:api` and `tsc`)."""

from __future__ import annotations

import gzip
import json
import re

from tests.console.conftest import ROOT

BUDGET = 250 * 1024
OPENAPI = ROOT / "functions" / "auth" / "openapi.json"
CALL = re.compile(r"api\(\)\.(GET|POST|PUT|DELETE)\(\s*\"([^\"]+)\"")


def initial_assets(dist) -> list:
    """The JS and CSS that index.html loads: scripts, stylesheets and module preloads."""
    html = (dist / "index.html").read_text()
    refs = re.findall(r'<script[^>]+src="([^"]+)"', html)
    refs += re.findall(r'<link[^>]+rel="(?:stylesheet|modulepreload)"[^>]+href="([^"]+)"', html)
    refs += re.findall(r'<link[^>]+href="([^"]+)"[^>]+rel="(?:stylesheet|modulepreload)"', html)
    return [dist / ref.lstrip("/") for ref in dict.fromkeys(refs)]


def test_initial_load_is_under_250_kb_gzipped(console_dist):
    assets = initial_assets(console_dist)
    assert {a.suffix for a in assets} == {".js", ".css"}, assets
    sizes = {a.name: len(gzip.compress(a.read_bytes(), compresslevel=6)) for a in assets}
    total = sum(sizes.values())
    print(f"\ninitial load, gzipped (level 6): {sizes} = {total / 1024:.1f} KB of {BUDGET // 1024} KB")
    assert total < BUDGET


def test_every_client_call_is_an_operation_of_the_openapi_document():
    operations = {
        (method.upper(), path)
        for path, item in json.loads(OPENAPI.read_text())["paths"].items()
        for method in item
    }
    calls = set()
    for source in (ROOT / "console" / "src" / "api").glob("*.ts"):
        calls |= set(CALL.findall(source.read_text()))
    assert len(calls) > 40
    assert calls - operations == set()


def test_the_console_loads_nothing_from_elsewhere(console_dist):
    """No CDN, font or asset from another origin: every URL in the built files is relative."""
    for path in console_dist.rglob("*"):
        if path.suffix in (".html", ".css"):
            text = path.read_text()
            assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text), path
            assert not re.search(r"url\((?:'|\")?(?:https?:)?//", text), path
            assert "@import" not in text, path
