{{ config(contract={'enforced': true}) }}

-- Churn rate per calendar month = lost / active_at_start, where active_at_start counts the
-- customers in a retained status (active, at_risk, reactivated) on the day before the month and
-- lost those of them whose status moved to inactive or lapsed within the month (the counts come
-- from customer_churn_monthly). Retention rate = 1 - churn rate, stated as retained / active.
with monthly as (
    select * from {{ ref('customer_churn_monthly') }}
)

select
    month_start,
    active_at_start,
    lost,
    retained,
    cast({{ ratio('lost', 'active_at_start') }} as {{ type_double() }}) as churn_rate,
    cast({{ ratio('retained', 'active_at_start') }} as {{ type_double() }}) as retention_rate,
    is_complete_month
from monthly
