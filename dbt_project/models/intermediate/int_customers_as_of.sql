-- One row per customer known by the end of the as-of day, latest attributes delivered by then
-- (if every version was delivered later, the earliest one); erased customers removed.
with customers as (
    select *
    from {{ ref('stg_crm__customers') }}
    where created_at is null or created_at < {{ as_of_cutoff() }}
),

erased as (
    select customer_id from {{ ref('int_customers_erased') }}
),

versions as (
    select
        customers.*,
        coalesce(customers.updated_at, customers.created_at) is null
            or coalesce(customers.updated_at, customers.created_at) < {{ as_of_cutoff() }}
            as is_known_by_as_of
    from customers
    left join erased on customers.customer_id = erased.customer_id
    where erased.customer_id is null
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by
                case when is_known_by_as_of then 0 else 1 end,
                case when is_known_by_as_of then coalesce(updated_at, created_at) end desc,
                coalesce(updated_at, created_at),
                _source_file desc,
                _source_row desc
        ) as version_rank
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
