{{ config(contract={'enforced': true}) }}

-- Validity intervals per customer and status, derived deterministically from the recorded
-- changes: an interval starts on the as-of date a new status was first recorded and ends
-- (exclusive) on the date the next one was; the current interval has valid_to null.
with daily as (
    select * from {{ ref('customer_status_changes') }}
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
