"""console/src/api/compat.ts reads today's answers and the contract's (issue 12) alike: its readers,
compiled by the console's own TypeScript and run by node on both shapes."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.console.conftest import ROOT

CONSOLE = ROOT / "console"
CASES = """
import { deletedName, logLinesOf, runOf, streamsOf } from "./compat.js";
const stream = { stream_name: "orders", columns: [], selected: true, sync_mode: "full_refresh",
  destination_sync_mode: "append", primary_key: [] };
const line = { level: "INFO", message: "run succeeded" };
console.log(JSON.stringify({
  streams: [streamsOf({ streams: [stream] }), streamsOf({ streams_config: { streams: [stream] } })],
  runs: [runOf({ id: "isj-1", state: "succeeded", runtime_ms: 4397 }),
         runOf({ id: "isj-1", status: "succeeded", runtime: 4397 }),
         runOf({ id: "isj-1", status: "SUCCESS", state: "succeeded", runtime: 4397, runtime_ms: 4397 })],
  logs: [logLinesOf([line]), logLinesOf({ task_logs: [line] })],
  deleted: [deletedName(null, "exports"), deletedName({ name: "exports" }, "?")],
}));
"""


@pytest.fixture(scope="module")
def compiled(console_dist, tmp_path_factory):
    if shutil.which("node") is None:
        pytest.fail("node is needed to build and test the console")
    out = tmp_path_factory.mktemp("compat")
    tsc = CONSOLE / "node_modules" / ".bin" / "tsc"
    args = ["--outDir", str(out), "--module", "esnext", "--target", "es2022", "--moduleResolution", "bundler"]
    args += ["--skipLibCheck", "--rewriteRelativeImportExtensions", "false"]
    subprocess.run([str(tsc), *args, str(CONSOLE / "src" / "api" / "compat.ts")], check=True, cwd=CONSOLE)
    (out / "package.json").write_text('{"type": "module"}')
    for name in ("compat.js", "client.js"):  # the emitted imports name no extension: give them one
        path = out / name
        path.write_text(path.read_text().replace('from "./client"', 'from "./client.js"'))
    (out / "node_modules").symlink_to(CONSOLE / "node_modules")
    (out / "cases.mjs").write_text(CASES)
    return out


def test_compat_reads_both_shapes(compiled):
    result = subprocess.run(["node", "cases.mjs"], cwd=compiled, capture_output=True, text=True, check=True)
    got = json.loads(result.stdout)
    assert got["streams"][0] == got["streams"][1] and got["streams"][0][0]["stream_name"] == "orders"
    for run in got["runs"]:
        assert (run["id"], run["state"], run["runtime_ms"]) == ("isj-1", "succeeded", 4397)
    assert got["logs"][0] == got["logs"][1] == [{"level": "INFO", "message": "run succeeded"}]
    assert got["deleted"] == ["exports", "exports"]
