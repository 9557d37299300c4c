{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
        full_refresh=false,
        contract={'enforced': true},
        post_hook=[
            "delete from {{ this }} where customer_id in (select customer_id from {{ ref('int_customers_erased') }})"
        ],
    )
}}

-- depends_on: {{ ref('int_customers_erased') }}
-- The status of every customer as computed for each as-of date: a run replaces the rows of its
-- own as-of date only (delete+insert on as_of_date), so reruns and backfills in any order leave
-- one row per customer and date, and the history derived from it does not depend on run order.
-- Erased customers are removed from every date after each run. full_refresh is off: history
-- can only be rebuilt by backfilling dates, never wiped by a --full-refresh.
select
    as_of_date,
    customer_id,
    status,
    rule_id,
    rule_version,
    threshold_days,
    inactive_since
from {{ ref('customer_inactivity_status') }}
