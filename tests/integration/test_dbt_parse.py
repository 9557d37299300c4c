"""`dbt_parse` (make manifest, `winback ui` on every load, the first `winback` command) swaps
target/manifest.json in whole, so a process loading the definitions at that moment reads the
old manifest or the new one, never half of one (seen in CI: a `winback run` failed with
"JSONDecodeError: unexpected end of data" while `winback ui` re-parsed)."""

import json
import shutil
from pathlib import Path

from orchestration.defs.dbt.args import dbt_parse
from orchestration.lib.settings import DBT_PROJECT_DIR


def test_a_parse_swaps_the_manifest_in_whole_and_leaves_no_scratch(tmp_path, monkeypatch):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    target = project / "target"
    target.mkdir()
    old = (DBT_PROJECT_DIR / "target" / "manifest.json").read_bytes()
    (target / "manifest.json").write_bytes(old)

    with (target / "manifest.json").open("rb") as reader:  # a definitions load under way
        monkeypatch.chdir(tmp_path)
        dbt_parse(Path("dbt_project"))  # relative, as `make manifest` passes it
        # dbt writing in place would hand this reader the new file's bytes (or a part of them).
        assert reader.read() == old

    new = json.loads((target / "manifest.json").read_text())
    assert new["metadata"]["invocation_id"] != json.loads(old)["metadata"]["invocation_id"]
    assert any(node.startswith("model.") for node in new["nodes"])
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "partial_parse.msgpack"]
