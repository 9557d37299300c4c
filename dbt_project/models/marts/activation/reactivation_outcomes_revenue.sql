{{ config(contract={'enforced': true}) }}
{%- set window = conversion_window_days() %}

-- Revenue within the conversion window per audience, send date, group and currency (amounts are
-- never summed across currencies), with revenue per customer of the group for comparison.
with spells as (
    select * from {{ ref('int_audience_spells_measured') }}
),

group_sizes as (
    select audience, send_date, holdout_group, count(distinct customer_id) as customers
    from spells
    group by audience, send_date, holdout_group
),

revenue as (
    select
        audience,
        send_date,
        holdout_group,
        currency,
        count(distinct customer_id) as buyers,
        sum(revenue) as revenue
    from spells
    where purchases_count > 0
    group by audience, send_date, holdout_group, currency
)

select
    revenue.audience,
    revenue.send_date,
    revenue.holdout_group,
    revenue.currency,
    cast({{ window }} as {{ dbt.type_int() }}) as conversion_window_days,
    cast(group_sizes.customers as {{ dbt.type_int() }}) as group_customers,
    cast(revenue.buyers as {{ dbt.type_int() }}) as buyers,
    cast(revenue.revenue as decimal(18, 2)) as revenue,
    cast(revenue.revenue / group_sizes.customers as decimal(18, 4)) as revenue_per_customer
from revenue
inner join group_sizes
    on revenue.audience = group_sizes.audience
    and revenue.send_date = group_sizes.send_date
    and revenue.holdout_group = group_sizes.holdout_group
