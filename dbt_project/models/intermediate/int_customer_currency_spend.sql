-- What the Gamma-Gamma spend model (orchestration/defs/predictions) needs per buyer and
-- currency as of the as-of date: the purchase days in that currency and the revenue of all but
-- the first of them (a customer's repeat spend). Kept free of the as-of date so it can be
-- incremental (macros/incremental_as_of.sql): a next-day run recomputes only the customers of
-- changed orders, where the BG/NBD step used to number every purchase day of every customer.
-- depends_on: {{ source('shop', 'orders') }} {{ source('shop', 'order_items') }}
-- depends_on: {{ source('crm', 'erasure_requests') }} {{ source('crm', 'customers') }} {{ ref('int_as_of_changed_keys') }}
-- depends_on: {{ ref('int_orders_as_of') }} {{ ref('int_purchases_of_changed_customers') }}
{{ incremental_as_of_config('customer_id', 'customer') }}

with purchase_days as (
    select
        customer_id,
        currency,
        order_date,
        sum(revenue_amount) as revenue
    from {{ as_of_customer_purchases() }}
    where is_purchase
        and {{ as_of_changed_filter('customer_id', 'customer') }}
    group by customer_id, currency, order_date
),

numbered as (
    select
        *,
        row_number() over (
            partition by customer_id, currency order by order_date
        ) as day_number
    from purchase_days
)

select
    customer_id,
    currency,
    count(*) as purchase_days,
    sum(case when day_number > 1 then revenue else 0 end) as repeat_revenue
from numbered
group by customer_id, currency
