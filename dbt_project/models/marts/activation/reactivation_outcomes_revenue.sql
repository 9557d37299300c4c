{{ config(contract={'enforced': true}) }}
{%- set window = audiences()['conversion_window_days'] | int %}

-- Revenue within the conversion window per audience, send date, group and currency (amounts are
-- never summed across currencies), with revenue per customer of the group for comparison.
with spells as (
    select audience, customer_id, holdout_group, entered_on as send_date
    from {{ ref('audience_membership_history') }}
    where not is_capped
),

group_sizes as (
    select audience, send_date, holdout_group, count(*) as customers
    from spells
    group by audience, send_date, holdout_group
),

purchases as (
    select customer_id, order_date, currency, revenue_amount
    from {{ ref('int_orders_as_of') }}
    where is_purchase
),

revenue as (
    select
        spells.audience,
        spells.send_date,
        spells.holdout_group,
        purchases.currency,
        count(distinct spells.customer_id) as buyers,
        sum(purchases.revenue_amount) as revenue
    from spells
    inner join purchases
        on spells.customer_id = purchases.customer_id
        and purchases.order_date > spells.send_date
        and purchases.order_date <= {{ dbt.dateadd('day', window, 'spells.send_date') }}
    group by spells.audience, spells.send_date, spells.holdout_group, purchases.currency
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
