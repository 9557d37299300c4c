-- One row per order as it stood at the end of the as-of day: the latest version delivered by then
-- (if every version was delivered later, the earliest one), erased customers removed.
-- Purchase rule: every order not cancelled is a purchase, zero amounts included; refunded orders
-- count as activity but add no revenue.
-- Incremental (macros/incremental_as_of.sql): a next-day run re-ranks only the orders touched by
-- new raw rows, by the moving cutoff or by new erasures; an earlier date rebuilds.
-- depends_on: {{ source('shop', 'orders') }} {{ source('shop', 'order_items') }}
-- depends_on: {{ source('crm', 'erasure_requests') }} {{ source('crm', 'customers') }} {{ ref('int_as_of_changed_keys') }}
{{ incremental_as_of_config('order_id', 'order') }}

with orders as (
    select *
    from {{ ref('stg_shop__orders') }}
    where ordered_at < {{ as_of_cutoff() }}
        and {{ as_of_changed_filter('order_id', 'order') }}
),

erased as (
    select customer_id from {{ ref('int_customers_erased') }}
),

versions as (
    select orders.*
    from orders
    left join erased on orders.customer_id = erased.customer_id
    where erased.customer_id is null
),

ranked as (
    select
        *,
        {{ version_rank_as_of('order_id', 'coalesce(updated_at, ordered_at)') }} as version_rank,
        count(*) over (partition by order_id) as versions_delivered
    from versions
)

select
    order_id,
    customer_id,
    ordered_at,
    order_date,
    order_status,
    currency,
    amount,
    updated_at,
    versions_delivered,
    order_status <> 'cancelled' as is_purchase,
    case when order_status in ('cancelled', 'refunded') then 0 else amount end as revenue_amount
from ranked
where version_rank = 1
