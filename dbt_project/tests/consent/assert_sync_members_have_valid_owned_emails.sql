{{ config(severity='error', meta={'dagster': {'ref': {'name': 'sync_audience_members'}}}) }}
-- Hygiene rule: every audience member's exported address is the valid, normalised address of
-- their current CRM record, not a role or disposable address (uniqueness: the unique test on email).
with members as (
    select sync.customer_id, sync.email, customers.email_raw
    from {{ ref('sync_audience_members') }} as sync
    left join {{ ref('int_customers_as_of') }} as customers
        on sync.customer_id = customers.customer_id
)

select members.customer_id
from members
left join {{ ref('stg_hygiene__email_checks') }} as checks
    on members.email_raw = checks.email_raw
where checks.email_raw is null
    or not checks.is_email_valid
    or checks.is_role_address
    or checks.is_disposable_domain
    or checks.email_normalized <> members.email
