{{ contact_hygiene_config() }}
-- depends_on: {{ ref('int_as_of_changed_keys') }} {{ source('hygiene', 'rules') }}

-- Contact hygiene per customer as of the run date: normalised email and E.164 phone, validity
-- flags with reason codes, consent per channel (latest event wins, no event = no consent),
-- suppressions, one deterministic owner per address or number, and one contactability verdict
-- per channel with the first reason that blocks it. Erased customers are absent (they are
-- removed upstream in int_customers_as_of).
-- A next-day build recomputes only the customers whose row can differ (macros/contact_hygiene.sql).
with customers as (
    select customer_id, email_raw, phone_raw, country_code, created_at
    from {{ ref('int_customers_as_of') }}
    where {{ contact_hygiene_filter('customer_id') }}
),

email_checks as (
    select * from {{ ref('stg_hygiene__email_checks') }}
),

phone_checks as (
    select * from {{ ref('stg_hygiene__phone_checks') }}
),

consent as (
    select * from {{ ref('int_customer_consent_as_of') }}
),

suppressions as (
    select * from {{ ref('int_email_suppressions_as_of') }}
),

joined as (
    select
        customers.customer_id,
        customers.created_at,
        email_checks.email_normalized,
        coalesce(email_checks.is_email_valid, false) as is_email_valid,
        case
            when customers.email_raw is null or trim(customers.email_raw) = '' then 'missing'
            else email_checks.email_invalid_reason
        end as email_invalid_reason,
        coalesce(email_checks.is_role_address, false) as is_role_address,
        coalesce(email_checks.is_disposable_domain, false) as is_disposable_domain,
        suppressions.suppression_reason as email_suppression_reason,
        coalesce(email_consent.consent_status, 'no_consent') as email_consent_status,
        phone_checks.phone_e164,
        phone_checks.phone_extension,
        phone_checks.phone_type,
        coalesce(phone_checks.is_phone_valid, false) as is_phone_valid,
        case
            when customers.phone_raw is null or trim(customers.phone_raw) = '' then 'missing'
            else phone_checks.phone_invalid_reason
        end as phone_invalid_reason,
        coalesce(sms_consent.consent_status, 'no_consent') as sms_consent_status
    from customers
    left join email_checks on customers.email_raw = email_checks.email_raw
    left join phone_checks
        on customers.phone_raw = phone_checks.phone_raw
        and customers.country_code is not distinct from phone_checks.country_code
    left join suppressions on email_checks.email_normalized = suppressions.email_normalized
    left join consent as email_consent
        on customers.customer_id = email_consent.customer_id and email_consent.channel = 'email'
    left join consent as sms_consent
        on customers.customer_id = sms_consent.customer_id and sms_consent.channel = 'sms'
),

-- One owner per shared address or number: the earliest-created customer (then the lowest id).
-- Only values held by more than one customer are ranked (windows over every customer sorted
-- them all for the few shared values); a value held by one customer is theirs. A normalised
-- address or E.164 number exists only for a valid one (orchestration/lib/contacts.py). When only
-- some customers are recomputed, the other holders of their values are ranked with them (their
-- rows as kept; the recomputed ones were deleted before this runs).
{%- for channel, value, valid in [('email', 'email_normalized', 'is_email_valid'),
                                  ('phone', 'phone_e164', 'is_phone_valid')] %}
{{ channel }}_holders as (
    select customer_id, created_at, {{ value }}
    from joined
    where {{ valid }}
    {%- if contact_hygiene_updates_incrementally() %}
    union all
    select kept.customer_id, others.created_at, kept.{{ value }}
    from {{ this }} as kept
    inner join {{ ref('int_customers_as_of') }} as others
        on kept.customer_id = others.customer_id
    where kept.{{ valid }}
        and kept.{{ value }} in (select {{ value }} from joined where {{ valid }})
    {%- endif %}
),

shared_{{ channel }}s as (
    select {{ value }}
    from {{ channel }}_holders
    group by {{ value }}
    having count(*) > 1
),

{{ channel }}_ranks as (
    select
        holders.customer_id,
        row_number() over (
            partition by holders.{{ value }}
            order by holders.created_at nulls last, holders.customer_id
        ) as {{ channel }}_rank
    from {{ channel }}_holders as holders
    inner join shared_{{ channel }}s on holders.{{ value }} = shared_{{ channel }}s.{{ value }}
),
{% endfor %}
owners as (
    select
        joined.*,
        joined.is_email_valid and email_ranks.customer_id is not null as is_email_duplicate,
        joined.is_email_valid and coalesce(email_ranks.email_rank, 1) = 1 as is_email_owner,
        joined.is_phone_valid and phone_ranks.customer_id is not null as is_phone_duplicate,
        joined.is_phone_valid and coalesce(phone_ranks.phone_rank, 1) = 1 as is_phone_owner
    from joined
    left join email_ranks on joined.customer_id = email_ranks.customer_id
    left join phone_ranks on joined.customer_id = phone_ranks.customer_id
),

verdicts as (
    select
        *,
        case
            when email_invalid_reason = 'missing' then 'missing_email'
            when email_invalid_reason = 'formula_prefix' then 'formula_prefix'
            when not is_email_valid then 'invalid_email'
            when is_disposable_domain then 'disposable_domain'
            when is_role_address then 'role_address'
            when email_consent_status = 'no_consent' then 'no_consent'
            when email_consent_status <> 'opted_in' then 'opted_out'
            when email_suppression_reason is not null then 'suppressed'
            when not is_email_owner then 'duplicate_email'
        end as email_not_contactable_reason,
        case
            when phone_invalid_reason = 'missing' then 'missing_phone'
            when not is_phone_valid then 'invalid_phone'
            when phone_type not in ('mobile', 'fixed_line_or_mobile') then 'not_mobile'
            when sms_consent_status = 'no_consent' then 'no_consent'
            when sms_consent_status <> 'opted_in' then 'opted_out'
            when not is_phone_owner then 'duplicate_phone'
        end as sms_not_contactable_reason
    from owners
)

-- Strings cast to the contract's type (varchar on PostgreSQL, where the rows a next day adds
-- are compared with the table's columns: macros/portable.sql).
select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    {{ as_of_date() }} as as_of_date,
    cast(email_normalized as {{ dbt.type_string() }}) as email_normalized,
    is_email_valid,
    cast(email_invalid_reason as {{ dbt.type_string() }}) as email_invalid_reason,
    is_role_address,
    is_disposable_domain,
    is_email_duplicate,
    is_email_owner,
    email_suppression_reason is not null as is_email_suppressed,
    cast(email_suppression_reason as {{ dbt.type_string() }}) as email_suppression_reason,
    cast(email_consent_status as {{ dbt.type_string() }}) as email_consent_status,
    email_not_contactable_reason is null as is_contactable_email,
    cast(email_not_contactable_reason as {{ dbt.type_string() }}) as email_not_contactable_reason,
    cast(phone_e164 as {{ dbt.type_string() }}) as phone_e164,
    cast(phone_extension as {{ dbt.type_string() }}) as phone_extension,
    cast(phone_type as {{ dbt.type_string() }}) as phone_type,
    is_phone_valid,
    cast(phone_invalid_reason as {{ dbt.type_string() }}) as phone_invalid_reason,
    is_phone_duplicate,
    is_phone_owner,
    cast(sms_consent_status as {{ dbt.type_string() }}) as sms_consent_status,
    sms_not_contactable_reason is null as is_contactable_sms,
    cast(sms_not_contactable_reason as {{ dbt.type_string() }}) as sms_not_contactable_reason
from verdicts
