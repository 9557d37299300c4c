{{ config(contract={'enforced': true}) }}

-- Reactivation rate per calendar month = reactivated / dormant_at_start, where dormant_at_start
-- counts the customers inactive or lapsed on the day before the month (status history) and
-- reactivated those of them whose status moved to reactivated within the month.
with history as (
    select * from {{ ref('customer_status_history') }}
),

transitions as (
    select * from {{ ref('customer_status_transitions') }}
),

months as (
    select month_start, is_complete_month from {{ ref('customer_churn_monthly') }}
),

bounds as (
    select
        month_start,
        is_complete_month,
        cast({{ dbt.dateadd('day', -1, 'month_start') }} as date) as day_before_start,
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as date) as next_month_start
    from months
),

dormant_at_start as (
    select bounds.month_start, history.customer_id
    from bounds
    inner join history
        on history.valid_from <= bounds.day_before_start
        and (history.valid_to is null or history.valid_to > bounds.day_before_start)
    where history.status in ('inactive', 'lapsed')
),

reactivated as (
    select distinct bounds.month_start, transitions.customer_id
    from bounds
    inner join transitions
        on transitions.transition_date >= bounds.month_start
        and transitions.transition_date < bounds.next_month_start
    where transitions.to_status = 'reactivated'
),

counts as (
    select
        dormant_at_start.month_start,
        count(*) as dormant_at_start,
        count(reactivated.customer_id) as reactivated
    from dormant_at_start
    left join reactivated
        on dormant_at_start.month_start = reactivated.month_start
        and dormant_at_start.customer_id = reactivated.customer_id
    group by dormant_at_start.month_start
),

filled as (
    select
        bounds.month_start,
        bounds.is_complete_month,
        coalesce(counts.dormant_at_start, 0) as dormant_at_start,
        coalesce(counts.reactivated, 0) as reactivated
    from bounds
    left join counts on bounds.month_start = counts.month_start
)

select
    month_start,
    cast(dormant_at_start as {{ dbt.type_int() }}) as dormant_at_start,
    cast(reactivated as {{ dbt.type_int() }}) as reactivated,
    cast({{ ratio('reactivated', 'dormant_at_start') }} as {{ type_double() }})
        as reactivation_rate,
    is_complete_month
from filled
