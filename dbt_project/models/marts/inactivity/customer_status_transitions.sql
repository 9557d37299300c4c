{{ config(contract={'enforced': true}) }}

-- One row per customer and day on which their status changed (first recorded statuses are not
-- transitions): "who became inactive last week" is a filter on this table.
select
    valid_from as transition_date,
    customer_id,
    previous_status as from_status,
    status as to_status,
    rule_id,
    threshold_days,
    inactive_since
from {{ ref('customer_status_history') }}
where previous_status is not null
