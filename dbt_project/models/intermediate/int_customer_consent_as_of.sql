-- The latest consent event per customer and channel up to the end of the as-of day (ties broken
-- by delivery order, deterministically). No row means no consent.
with events as (
    select *
    from {{ ref('stg_crm__consent_events') }}
    where occurred_at < {{ as_of_cutoff() }}
),

ranked as (
    select
        customer_id,
        channel,
        consent_status,
        occurred_at,
        row_number() over (
            partition by customer_id, channel
            order by occurred_at desc, _source_file desc, _source_row desc
        ) as event_rank
    from events
)

select
    customer_id,
    channel,
    consent_status,
    occurred_at as consent_changed_at
from ranked
where event_rank = 1
