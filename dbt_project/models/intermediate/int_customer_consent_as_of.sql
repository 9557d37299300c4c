-- The latest consent event per customer and channel up to the end of the as-of day (ties broken
-- by delivery order, deterministically). No row means no consent.
-- Incremental (macros/incremental_as_of.sql): a next-day run re-ranks only the customers with a
-- consent event loaded since the last build or dated between the two days' cutoffs.
-- depends_on: {{ source('crm', 'consent_events') }} {{ ref('int_as_of_changed_keys') }}
{{ incremental_as_of_config('customer_id', 'consent_customer') }}
-- Ingest fails closed on opt-outs: one whose channel could not be read has no channel, and it
-- counts on every channel of the consent_events contract.
with channels as (
    select 'email' as channel
    union all
    select 'sms' as channel
),

events as (
    select
        stg.customer_id,
        channels.channel,
        stg.consent_status,
        stg.occurred_at,
        stg._source_file,
        stg._source_row
    from {{ ref('stg_crm__consent_events') }} as stg
    inner join channels
        on stg.channel = channels.channel or stg.channel is null
    where stg.occurred_at < {{ as_of_cutoff() }}
        and {{ as_of_changed_filter('stg.customer_id', 'consent_customer') }}
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
