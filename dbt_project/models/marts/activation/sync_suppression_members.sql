{{ config(contract={'enforced': true}) }}

-- The do-not-contact set as of the run date, for the hashed exclusion audiences of the ad
-- platforms (config/audiences.yml: suppression_audience), so suppressed people are also kept
-- out of paid reach: customers who opted out on any channel or whose address is suppressed,
-- and suppressed addresses that belong to no customer. One row per identifier pair (normalised
-- email, E.164 phone); the export hashes them. Erased customers are not here: erasure deletes
-- their identifiers, hashes included, and every audience's removes file has already taken
-- them off the platforms. The write-time gate adds whoever opted out or was suppressed since.
with contacts as (
    select
        customer_id,
        email_normalized,
        phone_e164,
        email_consent_status,
        sms_consent_status,
        is_email_suppressed
    from {{ ref('contact_hygiene') }}
),

customers as (
    select
        customer_id,
        email_normalized as email,
        phone_e164 as phone,
        case
            when email_consent_status = 'opted_out' or sms_consent_status = 'opted_out'
                then 'opted_out'
            else 'suppressed'
        end as reason
    from contacts
    where email_consent_status = 'opted_out'
       or sms_consent_status = 'opted_out'
       or is_email_suppressed
),

addresses as (
    select
        cast('' as {{ dbt.type_string() }}) as customer_id,
        suppressions.email_normalized as email,
        cast(null as {{ dbt.type_string() }}) as phone,
        'suppressed' as reason
    from {{ ref('int_email_suppressions_as_of') }} as suppressions
    where not exists (
        select 1 from contacts where contacts.email_normalized = suppressions.email_normalized
    )
),

everyone as (
    select * from customers
    union all
    select * from addresses
)

-- Several customers sharing an address and phone are one row (the lowest customer id).
select
    min(customer_id) as customer_id,
    email,
    phone,
    min(reason) as reason
from everyone
where email is not null or phone is not null
group by email, phone
