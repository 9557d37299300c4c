{{ config(severity='error', meta={'dagster': {'ref': {'name': 'sync_audience_members'}}}) }}
-- Consent rule: every audience member's latest email consent event as of the run date is
-- opted_in (no event = no consent). Recomputed from staging, independently of contact_hygiene.
with latest as (
    select
        customer_id,
        consent_status,
        row_number() over (
            partition by customer_id
            order by occurred_at desc, _source_file desc, _source_row desc
        ) as event_rank
    from {{ ref('stg_crm__consent_events') }}
    -- an opt-out whose channel could not be read counts on every channel
    where (channel = 'email' or channel is null) and occurred_at < {{ as_of_cutoff() }}
        -- the members' events only (the ranking is per customer)
        and customer_id in (select customer_id from {{ ref('sync_audience_members') }})
)

select sync.customer_id
from {{ ref('sync_audience_members') }} as sync
left join latest on sync.customer_id = latest.customer_id and latest.event_rank = 1
where latest.consent_status is null or latest.consent_status <> 'opted_in'
