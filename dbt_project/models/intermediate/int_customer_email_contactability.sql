-- Email contactability per customer as of the run date: valid address, consent (latest event
-- wins; no event means no consent), not suppressed, and one deterministic owner per address.
with customers as (
    select customer_id, email_raw, created_at
    from {{ ref('int_customers_as_of') }}
),

checks as (
    select * from {{ ref('stg_hygiene__email_checks') }}
),

consent_ranked as (
    select
        customer_id,
        consent_status,
        row_number() over (
            partition by customer_id
            order by occurred_at desc, _source_file desc, _source_row desc
        ) as event_rank
    from {{ ref('stg_crm__consent_events') }}
    where channel = 'email'
      and occurred_at < {{ as_of_cutoff() }}
),

suppressed as (
    select distinct email_normalized
    from {{ ref('stg_crm__suppressions') }}
    where occurred_at < {{ as_of_cutoff() }}
),

joined as (
    select
        customers.customer_id,
        customers.created_at,
        checks.email_normalized,
        coalesce(checks.is_email_valid, false) as is_email_valid,
        case
            when customers.email_raw is null or trim(customers.email_raw) = '' then 'missing'
            else checks.email_invalid_reason
        end as email_invalid_reason,
        consent_ranked.consent_status as email_consent_status,
        suppressed.email_normalized is not null as is_email_suppressed
    from customers
    left join checks on customers.email_raw = checks.email_raw
    left join consent_ranked
        on customers.customer_id = consent_ranked.customer_id and consent_ranked.event_rank = 1
    left join suppressed on checks.email_normalized = suppressed.email_normalized
),

owners as (
    select
        *,
        case
            when is_email_valid then row_number() over (
                partition by email_normalized
                order by created_at nulls last, customer_id
            ) = 1
            else false
        end as is_email_owner
    from joined
)

select
    customer_id,
    email_normalized,
    is_email_valid,
    email_invalid_reason,
    email_consent_status,
    is_email_suppressed,
    is_email_owner,
    case
        when not is_email_valid then 'invalid_email'
        when email_consent_status is null then 'no_consent'
        when email_consent_status <> 'opted_in' then 'opted_out'
        when is_email_suppressed then 'suppressed'
        when not is_email_owner then 'duplicate_email'
    end as email_not_contactable_reason
from owners
