{{ config(severity='error', meta={'dagster': {'ref': {'name': 'contact_hygiene'}}}) }}
-- A customer marked contactable by email has a valid, owned, unsuppressed, non-role,
-- non-disposable address and opted-in consent; by SMS, a valid owned mobile number and opted-in
-- SMS consent. Guards the verdict against a reordering of its CASE branches.
select customer_id
from {{ ref('contact_hygiene') }}
where (is_contactable_email and not (
        is_email_valid and is_email_owner and not is_email_suppressed and not is_role_address
        and not is_disposable_domain and email_consent_status = 'opted_in'))
    or (is_contactable_sms and not (
        is_phone_valid and is_phone_owner and sms_consent_status = 'opted_in'
        and phone_type in ('mobile', 'fixed_line_or_mobile')))
    or (not is_contactable_email and email_not_contactable_reason is null)
    or (not is_contactable_sms and sms_not_contactable_reason is null)
