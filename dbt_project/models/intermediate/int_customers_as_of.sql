-- One row per customer known by the end of the as-of day, latest attributes delivered by then
-- (if every version was delivered later, the earliest one); erased customers removed.
-- Incremental (macros/incremental_as_of.sql): a next-day run re-ranks only the customers touched
-- by new CRM rows, by the moving cutoff or by new erasures; an earlier date rebuilds.
-- depends_on: {{ source('shop', 'orders') }} {{ source('shop', 'order_items') }}
-- depends_on: {{ source('crm', 'erasure_requests') }} {{ source('crm', 'customers') }}
-- depends_on: {{ ref('int_as_of_changed_keys') }}
{{ incremental_as_of_config('customer_id', 'crm_customer') }}

with customers as (
    select *
    from {{ ref('stg_crm__customers') }}
    where (created_at is null or created_at < {{ as_of_cutoff() }})
        and {{ as_of_changed_filter('customer_id', 'crm_customer') }}
),

erased as (
    select customer_id from {{ ref('int_customers_erased') }}
),

versions as (
    select customers.*
    from customers
    left join erased on customers.customer_id = erased.customer_id
    where erased.customer_id is null
),

ranked as (
    select
        *,
        {{ version_rank_as_of('customer_id', 'coalesce(updated_at, created_at)') }} as version_rank
    from versions
)

select
    customer_id,
    first_name,
    last_name,
    email_raw,
    phone_raw,
    country_code,
    postal_code,
    created_at,
    updated_at
from ranked
where version_rank = 1
