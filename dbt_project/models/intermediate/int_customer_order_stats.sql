-- One row per buyer: the order aggregates of customer_activity that depend only on the
-- customer's orders as of the as-of date (first and last purchase, counts, gaps, main currency,
-- last category). Columns that move with the date (days since, RFM) are computed each run in
-- customer_activity from this table.
-- Incremental (macros/incremental_as_of.sql): a next-day run recomputes only the customers of
-- changed orders (order lines included); an earlier date rebuilds.
-- depends_on: {{ source('shop', 'orders') }} {{ source('shop', 'order_items') }}
-- depends_on: {{ source('crm', 'erasure_requests') }} {{ source('crm', 'customers') }} {{ ref('int_as_of_changed_keys') }}
-- depends_on: {{ ref('int_orders_as_of') }} {{ ref('int_purchases_of_changed_customers') }}
{{ incremental_as_of_config('customer_id', 'customer') }}
{%- set changed_customers = as_of_changed_filter('customer_id', 'customer') %}

with purchases as (
    select * from {{ as_of_customer_purchases() }}
    where is_purchase
        and {{ changed_customers }}
),

purchase_days as (
    select * from {{ ref('int_customer_purchase_days') }}
    where {{ changed_customers }}
),

currency_revenue as (
    select * from {{ ref('int_customer_currency_revenue') }}
    where {{ changed_customers }}
),

order_stats as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as orders_count
    from purchases
    group by customer_id
),

-- The median gap is the middle gap (or the mean of the middle two) of each customer's gaps in
-- order: numbered by a window, which the engine sorts and can spill to disk, where a median()
-- aggregate keeps every customer's gaps in memory (5M customers ran DuckDB out of its limit).
ranked_days as (
    select
        customer_id,
        days_since_previous,
        row_number() over (
            partition by customer_id order by days_since_previous nulls last
        ) as gap_rank,
        count(days_since_previous) over (partition by customer_id) as gaps_count
    from purchase_days
),

day_stats as (
    select
        customer_id,
        count(*) as order_days_count,
        avg(days_since_previous) as avg_days_between_purchases,
        -- n gaps: rank (n + 1) / 2 when n is odd, ranks n / 2 and n / 2 + 1 when it is even
        avg(case when 2 * gap_rank between gaps_count and gaps_count + 2
            then days_since_previous end) as median_days_between_purchases
    from ranked_days
    group by customer_id
),

last_gap as (
    select customer_id, previous_order_date, days_since_previous
    from purchase_days
    where is_last_purchase_day
),

main_currency as (
    select
        customer_id,
        currency,
        revenue,
        count(*) over (partition by customer_id) as currencies_count,
        row_number() over (
            partition by customer_id order by purchases_count desc, revenue desc, currency
        ) as currency_rank
    from currency_revenue
),

-- The last purchase: the latest order time, then the greatest order id at that time, by two
-- aggregates (a window ranking every purchase cost twice the CPU: 10M orders, cold).
last_ordered_at as (
    select customer_id, max(ordered_at) as ordered_at
    from purchases
    group by customer_id
),

last_order as (
    select purchases.customer_id, max(purchases.order_id) as order_id
    from purchases
    inner join last_ordered_at
        on purchases.customer_id = last_ordered_at.customer_id
        and purchases.ordered_at = last_ordered_at.ordered_at
    group by purchases.customer_id
),

last_category as (
    select
        last_order.customer_id,
        items.category,
        row_number() over (
            partition by last_order.customer_id
            order by coalesce(items.quantity, 1) * coalesce(items.unit_price, 0) desc, items.line_no
        ) as line_rank
    from last_order
    inner join {{ ref('stg_shop__order_items') }} as items
        on last_order.order_id = items.order_id
    where items.category is not null
)

select
    order_stats.customer_id,
    order_stats.first_order_date,
    order_stats.last_order_date,
    last_gap.previous_order_date,
    cast(order_stats.orders_count as {{ dbt.type_int() }}) as orders_count,
    cast(day_stats.order_days_count as {{ dbt.type_int() }}) as order_days_count,
    cast(last_gap.days_since_previous as {{ dbt.type_int() }}) as days_between_last_two_purchases,
    cast(day_stats.avg_days_between_purchases as {{ type_double() }}) as avg_days_between_purchases,
    cast(day_stats.median_days_between_purchases as {{ type_double() }}) as median_days_between_purchases,
    main_currency.currency as main_currency,
    cast(main_currency.revenue as decimal(18, 2)) as revenue_main_currency,
    cast(main_currency.currencies_count as {{ dbt.type_int() }}) as currencies_count,
    last_category.category as last_category
from order_stats
left join day_stats on order_stats.customer_id = day_stats.customer_id
left join last_gap on order_stats.customer_id = last_gap.customer_id
left join main_currency
    on order_stats.customer_id = main_currency.customer_id and main_currency.currency_rank = 1
left join last_category
    on order_stats.customer_id = last_category.customer_id and last_category.line_rank = 1
