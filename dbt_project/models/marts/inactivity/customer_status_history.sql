{{ status_history_config() }}

-- depends_on: {{ ref('int_customers_erased') }}

-- Validity intervals per customer and status, derived deterministically from the recorded
-- changes: an interval starts on the as-of date a new status was first recorded and ends
-- (exclusive) on the date the next one was; the current interval has valid_to null.
-- A run after a build whose state is kept recomputes only the customers whose changes were
-- written since (the pre-hook deletes their intervals; macros/status_history.sql): the customers
-- with changes and no interval left, from all of their changes.
{%- set writes_seen = status_history_writes_seen() %}
with daily as (
    select recorded.*
    from {{ ref('customer_status_changes') }} as recorded
    {%- if writes_seen is not none %}
    where not exists (
        select 1 from {{ this }} as kept where kept.customer_id = recorded.customer_id
    )
    {%- endif %}
),

changes as (
    select
        *,
        lag(status) over (partition by customer_id order by as_of_date) as previous_status
    from daily
),

starts as (
    select * from changes
    where previous_status is null or previous_status <> status
)

select
    customer_id,
    status,
    as_of_date as valid_from,
    lead(as_of_date) over (partition by customer_id order by as_of_date) as valid_to,
    previous_status,
    rule_id,
    rule_version,
    threshold_days,
    inactive_since
from starts
