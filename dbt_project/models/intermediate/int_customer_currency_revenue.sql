-- Purchases and revenue per buyer and currency as of the as-of date (amounts are never summed
-- across currencies): the order aggregate behind customer_revenue_by_currency and the main
-- currency of customer_activity, kept free of the as-of date so it can be incremental.
-- Incremental (macros/incremental_as_of.sql): a next-day run recomputes only the customers of
-- changed orders; an earlier date rebuilds.
-- depends_on: {{ source('shop', 'orders') }} {{ source('shop', 'order_items') }}
-- depends_on: {{ source('crm', 'erasure_requests') }} {{ source('crm', 'customers') }} {{ ref('int_as_of_changed_keys') }}
-- depends_on: {{ ref('int_orders_as_of') }} {{ ref('int_purchases_of_changed_customers') }}
{{ incremental_as_of_config('customer_id', 'customer') }}

select
    customer_id,
    currency,
    count(*) as purchases_count,
    sum(revenue_amount) as revenue
from {{ as_of_customer_purchases() }}
where is_purchase
    and {{ as_of_changed_filter('customer_id', 'customer') }}
group by customer_id, currency
