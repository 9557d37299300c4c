"""How fresh the daily outputs must be: the marts and the audience exports carry this policy."""

import datetime as dt

import dagster as dg

# The daily job starts at 06:00 UTC and takes minutes, so each mart and export is rebuilt about
# every 24 hours. Older than 25 hours: the day's run is late (warn); older than 26 hours: it was
# missed or failed (fail). Measured from the last materialization, whatever its as-of date.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=26), warn_window=dt.timedelta(hours=25)
)
