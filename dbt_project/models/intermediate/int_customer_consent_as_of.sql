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
        {{ version_rank_as_of('customer_id, channel', 'occurred_at') }} as event_rank
    from events
)

select
    customer_id,
    channel,
    consent_status,
    occurred_at as consent_changed_at
from ranked
where event_rank = 1
