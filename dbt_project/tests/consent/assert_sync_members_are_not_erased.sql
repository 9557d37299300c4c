{{ config(severity='error', meta={'dagster': {'ref': {'name': 'sync_audience_members'}}}) }}
-- Erasure rule: no audience member has an erasure request, whatever its date.
select sync.customer_id
from {{ ref('sync_audience_members') }} as sync
inner join {{ ref('stg_crm__erasure_requests') }} as erasure
    on sync.customer_id = erasure.customer_id
