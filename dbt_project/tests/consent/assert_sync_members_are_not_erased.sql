{{ config(severity='error', meta={'dagster': {'ref': {'name': 'sync_winback_inactive_email'}}}) }}
-- Erasure rule: no audience member has an erasure request, whatever its date.
select sync.customer_id
from {{ ref('sync_winback_inactive_email') }} as sync
inner join {{ ref('stg_crm__erasure_requests') }} as erasure
    on sync.customer_id = erasure.customer_id
