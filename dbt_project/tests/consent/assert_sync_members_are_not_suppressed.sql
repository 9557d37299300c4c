{{ config(severity='error', meta={'dagster': {'ref': {'name': 'sync_audience_members'}}}) }}
-- Consent rule: no audience member's address is suppressed (bounce, complaint, unsubscribe,
-- manual) as of the run date, matched on the normalised form and on lower(trim()) alike.
with suppressed as (
    select checks.email_normalized as email
    from {{ ref('stg_crm__suppressions') }} as suppressions
    inner join {{ ref('stg_hygiene__email_checks') }} as checks
        on suppressions.email_raw = checks.email_raw
    where suppressions.occurred_at < {{ as_of_cutoff() }}
    union
    select lower(trim(email_raw))
    from {{ ref('stg_crm__suppressions') }}
    where occurred_at < {{ as_of_cutoff() }}
)

select sync.customer_id
from {{ ref('sync_audience_members') }} as sync
inner join suppressed on sync.email = suppressed.email
