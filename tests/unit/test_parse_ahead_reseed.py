"""A dbt step that dagster-dbt seeded while the fork server was still parsing ahead gets the parse
ahead's state; any other seed is left as it is (fork_server.reseed_from_parse_ahead). The whole
path through a server: tests/integration/test_dbt_fork_server.py."""

import hashlib

import pytest

from orchestration.defs.dbt.fork_server import AheadState, reseed_from_parse_ahead

STALE, AHEAD, LATER = b"state before the parse ahead", b"parse ahead's state", b"a later step's"


@pytest.fixture
def ahead():
    return AheadState(hashlib.sha256(STALE).hexdigest(), AHEAD)


def _step(tmp_path, seed):
    folder = tmp_path / "step"
    folder.mkdir()
    if seed is not None:
        (folder / "partial_parse.msgpack").write_bytes(seed)
    return {"DBT_TARGET_PATH": str(folder), "DAGSTER_DBT_CLI": "true"}, folder


def test_a_step_seeded_with_the_replaced_state_gets_the_parse_aheads(ahead, tmp_path):
    env, folder = _step(tmp_path, STALE)
    assert reseed_from_parse_ahead(ahead, env)
    assert (folder / "partial_parse.msgpack").read_bytes() == AHEAD
    assert [p.name for p in folder.iterdir()] == ["partial_parse.msgpack"]


@pytest.mark.parametrize("seed", [LATER, AHEAD, None])
def test_any_other_seed_is_kept(ahead, tmp_path, seed):
    env, folder = _step(tmp_path, seed)
    assert not reseed_from_parse_ahead(ahead, env)
    assert [p.read_bytes() for p in folder.iterdir()] == ([seed] if seed else [])


def test_only_dagster_dbts_steps_are_reseeded(ahead, tmp_path):
    env, folder = _step(tmp_path, STALE)
    assert not reseed_from_parse_ahead(ahead, {"DBT_TARGET_PATH": env["DBT_TARGET_PATH"]})
    assert (folder / "partial_parse.msgpack").read_bytes() == STALE


def test_without_a_state_before_the_parse_ahead_an_unseeded_step_gets_its(tmp_path):
    ahead = AheadState(None, AHEAD)
    env, folder = _step(tmp_path, None)
    assert reseed_from_parse_ahead(ahead, env)
    assert (folder / "partial_parse.msgpack").read_bytes() == AHEAD
