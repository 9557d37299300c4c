"""Daily import quotas (HubSpot): a day's exports over a quota warn, under it they do not."""

import pytest

from orchestration.defs.activation.quotas import QuotaConfigError, load_daily_quotas, quota_check
from orchestration.lib.settings import REPO_ROOT

FREE = {"max_imports_per_day": 50, "max_rows_per_day": 500_000}


def test_the_shipped_hubspot_quotas_are_the_free_tools_ones():
    assert load_daily_quotas(REPO_ROOT / "config" / "platforms.yml") == {"hubspot": FREE}


def test_rows_over_the_daily_quota_warn_and_each_file_part_is_an_import():
    check = quota_check({"a": 400_000, "b": 200_000}, 1_048_576, FREE)
    assert (check["imports_today"], check["rows_today"]) == (2, 600_000)
    assert check["exceeded"] == ["max_rows_per_day"]
    # An empty export is still an import; a file split in parts is one import per part.
    parts = quota_check({f"a{i}": 0 for i in range(49)} | {"big": 250}, 100, FREE)
    assert (parts["imports_today"], parts["exceeded"]) == (52, ["max_imports_per_day"])
    assert quota_check({"a": 500_000}, None, FREE)["exceeded"] == []
    assert quota_check({"a": 10**9}, None, None) is None


@pytest.mark.parametrize(
    ("quotas", "message"),
    [("{max_files: 5}", "must be a mapping with max_imports_per_day and/or max_rows_per_day"),
     ("{max_rows_per_day: 0}", "'max_rows_per_day' must be a positive whole number")],
)
def test_invalid_quotas_name_the_platform_and_field(tmp_path, quotas, message):
    path = tmp_path / "platforms.yml"
    path.write_text(f"platforms:\n  hubspot:\n    checked_on: 2026-11-27\n"
                    f"    daily_quotas: {quotas}\n", encoding="utf-8")
    with pytest.raises(QuotaConfigError, match="platform 'hubspot': field 'daily_quotas'.*"
                       + message):
        load_daily_quotas(path)
