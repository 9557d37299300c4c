-- The orders and customers the incremental as-of models recompute on this run, computed once
-- (one row per key, key_grain 'order', 'customer', 'crm_customer' or 'consent_customer'), and a
-- 'baseline' row: this build's as-of date, raw watermark and raw row count, and those of the
-- previous build the changes are relative to (null: every incremental as-of model rebuilds).
-- See macros/incremental_as_of.sql.
-- depends_on: {{ source('shop', 'orders') }} {{ source('shop', 'order_items') }}
-- depends_on: {{ source('crm', 'erasure_requests') }} {{ source('crm', 'customers') }}
-- depends_on: {{ source('crm', 'consent_events') }}
{{ as_of_changed_keys_config() }}
{{ as_of_changed_keys_sql() }}
