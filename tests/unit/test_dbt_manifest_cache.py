import json
import os
from types import SimpleNamespace

from orchestration.defs.dbt import project


def test_the_manifest_is_read_once_and_again_after_a_new_parse_swaps_it_in(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": {"model.winback.a": {"checksum": {"checksum": "1"}}}}))
    monkeypatch.setattr(project, "winback_project", SimpleNamespace(manifest_path=path))
    first = project.dbt_manifest()
    assert project.dbt_manifest() is first

    # A parse writes a new file and swaps it in (args.dbt_parse): same size, newer time.
    scratch = tmp_path / "scratch.json"
    scratch.write_text(json.dumps({"nodes": {"model.winback.a": {"checksum": {"checksum": "2"}}}}))
    stat = path.stat()
    os.utime(scratch, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    os.replace(scratch, path)
    assert project.dbt_manifest()["nodes"]["model.winback.a"]["checksum"]["checksum"] == "2"
