"""`ingestplane-upload` (cli/upload.py) against the local cloud: a folder with a small and a multipart
file, then an interrupted run resumed by running the same command again."""

from __future__ import annotations

import io
import json

import pytest

from cli import upload as cli

from .conftest import Tenant, csv_bytes


def big_csv(mib: int) -> bytes:
    row = b"1234567,some text to fill the file,42.5\n"
    return b"id,text,value\n" + row * (mib * 1024 * 1024 // len(row) + 1)


def run(tenant: Tenant, tmp_path, *extra: str) -> tuple[int, str]:
    args = cli.parser().parse_args(
        [*extra, "--url", tenant.base, "--api-key", tenant.key, "--state", str(tmp_path / "state.json"), "--quiet",
         "--timeout", "60"]
    )  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(args, out, err)
    return code, out.getvalue()


def test_uploads_a_folder_ends_and_prints_the_history(tenant: Tenant, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "small.csv").write_bytes(csv_bytes(3))
    (folder / "big.csv").write_bytes(big_csv(6))
    (folder / ".hidden").write_bytes(b"skip me")
    code, out = run(tenant, tmp_path, str(folder), "--path", "/cli/folder", "--part-size", "5", "--full")
    assert code == 0, out
    lines = out.strip().splitlines()
    assert sorted(lines[:-1]) == ["Finished  big.csv", "Finished  small.csv"]
    result = json.loads(lines[-1])
    assert (
        result["sync_status"] == "Finished"
        and result["total_files"] == 2
        and result["sync_type"] == "FullSync"
    )
    assert not (tmp_path / "state.json").exists()


def test_an_interrupted_upload_resumes(tenant: Tenant, tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(big_csv(16))  # 4 parts of 5 MiB
    real_put = cli.Client.put_part
    calls = []

    def flaky(self, url, data):
        calls.append(url)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C after two parts
        return real_put(self, url, data)

    monkeypatch.setattr(cli.Client, "put_part", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(tenant, tmp_path, str(path), "--path", "/cli/resume", "--part-size", "5", "--parallel", "1")
    state = json.loads((tmp_path / "state.json").read_text())
    (entry,) = state["files"].values()
    assert len(entry["etags"]) == 2 and not entry.get("done")

    sent_again = []
    monkeypatch.setattr(
        cli.Client, "put_part", lambda self, url, data: sent_again.append(url) or real_put(self, url, data)
    )
    code, out = run(tenant, tmp_path, str(path), "--path", "/cli/resume", "--part-size", "5")
    assert code == 0, out
    # Only the parts S3 had not received (part 4 may have started before the interruption landed).
    assert 1 <= len(sent_again) <= 2 and any("partNumber=3" in u for u in sent_again), sent_again
    assert not any("partNumber=1&" in u or "partNumber=2&" in u for u in sent_again)
    assert json.loads(out.strip().splitlines()[-1])["sync_id"] == state["sync_id"]
    assert tenant.files(state["sync_id"])[0]["sync_status"] == "Finished"


def test_a_bad_key_is_a_clear_error(tenant: Tenant, tmp_path, capsys):
    (tmp_path / "a.csv").write_bytes(csv_bytes(1))
    code = cli.main([str(tmp_path / "a.csv"), "--path", "x", "--url", tenant.base, "--api-key", "ipk.a.b.c",
                     "--state", str(tmp_path / "s.json"), "--quiet"])  # fmt: skip
    assert code == 2 and "401" in capsys.readouterr().err


def test_a_table_target_is_passed_on_and_loaded(tenant: Tenant, tmp_path):
    r = tenant.user.call(
        "POST",
        f"/api/v1/project/{tenant.project}/destinations",
        json={"name": "warehouse", "type": "iceberg", "config": {"catalog": "glue", "database": "cli"}},
    )
    assert r.status_code == 201, r.text
    (tmp_path / "orders.csv").write_bytes(csv_bytes(3))
    code, out = run(
        tenant, tmp_path, str(tmp_path / "orders.csv"), "--path", "/cli/orders",
        "--destination", "warehouse", "--table", "orders",
    )  # fmt: skip
    assert code == 0, out
    sync = tenant.sync(json.loads(out.strip().splitlines()[-1])["sync_id"])
    assert (sync["table"], sync["table_rows"]) == (f"p_{tenant.project}_cli.orders", 3), sync
