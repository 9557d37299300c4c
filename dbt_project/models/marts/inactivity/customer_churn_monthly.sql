{{ config(contract={'enforced': true}) }}

-- Churn and retention per calendar month from the status history. "Retained" statuses are
-- active, at_risk and reactivated; a customer is lost in a month when their status moves from
-- one of those to inactive or lapsed within it. churn_rate = lost / retained-status customers
-- at the start of the month, i.e. on the last day of the month before (so a customer lost on the
-- 1st counts). A month is complete when the history covers the day before it starts and the
-- last recorded as-of date has reached its last day.
with history as (
    select
        *,
        status in ('active', 'at_risk', 'reactivated') as is_retained_status
    from {{ ref('customer_status_history') }}
),

transitions as (
    select * from {{ ref('customer_status_transitions') }}
),

months as (
    select distinct {{ dbt.date_trunc('month', 'as_of_date') }} as month_start
    from {{ ref('customer_status_runs') }}
),

bounds as (
    select
        cast(month_start as date) as month_start,
        cast({{ dbt.dateadd('day', -1, 'month_start') }} as date) as day_before_start,
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as date) as next_month_start
    from months
),

coverage as (
    select min(as_of_date) as first_as_of_date, max(as_of_date) as last_as_of_date
    from {{ ref('customer_status_runs') }}
),

active_at_start as (
    select bounds.month_start, history.customer_id
    from bounds
    inner join history
        on history.valid_from <= bounds.day_before_start
        and (history.valid_to is null or history.valid_to > bounds.day_before_start)
    where history.is_retained_status
),

lost as (
    select distinct bounds.month_start, transitions.customer_id
    from bounds
    inner join transitions
        on transitions.transition_date >= bounds.month_start
        and transitions.transition_date < bounds.next_month_start
    where transitions.from_status in ('active', 'at_risk', 'reactivated')
      and transitions.to_status in ('inactive', 'lapsed')
),

reactivated as (
    select distinct bounds.month_start, transitions.customer_id
    from bounds
    inner join transitions
        on transitions.transition_date >= bounds.month_start
        and transitions.transition_date < bounds.next_month_start
    where transitions.to_status = 'reactivated'
),

start_counts as (
    select month_start, count(*) as customers from active_at_start group by month_start
),

lost_counts as (
    select active_at_start.month_start, count(*) as customers
    from active_at_start
    inner join lost
        on active_at_start.customer_id = lost.customer_id
        and active_at_start.month_start = lost.month_start
    group by active_at_start.month_start
),

reactivated_counts as (
    select month_start, count(*) as customers from reactivated group by month_start
),

counts as (
    select
        bounds.month_start,
        bounds.day_before_start,
        bounds.next_month_start,
        coalesce(start_counts.customers, 0) as active_at_start,
        coalesce(lost_counts.customers, 0) as lost,
        coalesce(reactivated_counts.customers, 0) as reactivated
    from bounds
    left join start_counts on bounds.month_start = start_counts.month_start
    left join lost_counts on bounds.month_start = lost_counts.month_start
    left join reactivated_counts on bounds.month_start = reactivated_counts.month_start
)

select
    counts.month_start,
    cast(counts.active_at_start as {{ dbt.type_int() }}) as active_at_start,
    cast(counts.lost as {{ dbt.type_int() }}) as lost,
    cast(counts.active_at_start - counts.lost as {{ dbt.type_int() }}) as retained,
    cast(counts.reactivated as {{ dbt.type_int() }}) as reactivated,
    cast(case when counts.active_at_start > 0
        then cast(counts.lost as {{ type_double() }}) / counts.active_at_start end as {{ type_double() }}) as churn_rate,
    cast(case when counts.active_at_start > 0
        then cast(counts.active_at_start - counts.lost as {{ type_double() }}) / counts.active_at_start
        end as {{ type_double() }}) as retention_rate,
    coverage.first_as_of_date <= counts.day_before_start
        and coverage.last_as_of_date
            >= cast({{ dbt.dateadd('day', -1, 'counts.next_month_start') }} as date)
        as is_complete_month
from counts
cross join coverage
