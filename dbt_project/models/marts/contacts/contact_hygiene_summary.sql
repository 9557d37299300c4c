{{ config(contract={'enforced': true}) }}

-- Contact hygiene in numbers, per channel: the verdict breakdown (each customer counted once,
-- under 'contactable' or the first reason that blocks them; the rows sum to all customers), the
-- flags that can overlap (role, disposable, duplicate, suppressed, invalid phone, ...), and
-- erased customers (removed from every mart; counted here, never listed).
with hygiene as (
    select * from {{ ref('contact_hygiene') }}
),

customers as (
    select count(*) as customers_total from hygiene
),

verdicts as (
    select 'email' as channel, 'verdict' as category,
        coalesce(email_not_contactable_reason, 'contactable') as code, count(*) as customers
    from hygiene group by 3
    union all
    select 'sms', 'verdict', coalesce(sms_not_contactable_reason, 'contactable'), count(*)
    from hygiene group by 3
),

flags as (
    select 'email' as channel, 'flag' as category, 'invalid_email' as code,
        sum(case when not is_email_valid then 1 else 0 end) as customers from hygiene
    union all
    select 'email', 'flag', 'role_address',
        sum(case when is_role_address then 1 else 0 end) from hygiene
    union all
    select 'email', 'flag', 'disposable_domain',
        sum(case when is_disposable_domain then 1 else 0 end) from hygiene
    union all
    select 'email', 'flag', 'duplicate_email',
        sum(case when is_email_duplicate then 1 else 0 end) from hygiene
    union all
    select 'email', 'flag', 'suppressed',
        sum(case when is_email_suppressed then 1 else 0 end) from hygiene
    union all
    select 'email', 'flag', 'opted_in',
        sum(case when email_consent_status = 'opted_in' then 1 else 0 end) from hygiene
    union all
    select 'sms', 'flag', 'invalid_phone',
        sum(case when not is_phone_valid then 1 else 0 end) from hygiene
    union all
    select 'sms', 'flag', 'duplicate_phone',
        sum(case when is_phone_duplicate then 1 else 0 end) from hygiene
    union all
    select 'sms', 'flag', 'phone_extension',
        sum(case when phone_extension is not null then 1 else 0 end) from hygiene
    union all
    select 'sms', 'flag', 'opted_in',
        sum(case when sms_consent_status = 'opted_in' then 1 else 0 end) from hygiene
    union all
    select 'all', 'flag', 'erased', count(*) from {{ ref('int_customers_erased') }}
),

counted as (
    select * from verdicts
    union all
    select * from flags
)

select
    {{ as_of_date() }} as as_of_date,
    cast(counted.channel as {{ dbt.type_string() }}) as channel,
    cast(counted.category as {{ dbt.type_string() }}) as category,
    cast(counted.code as {{ dbt.type_string() }}) as code,
    cast(coalesce(counted.customers, 0) as {{ dbt.type_bigint() }}) as customers,
    cast(
        case when customers.customers_total = 0 or counted.code = 'erased' then null
        else 1.0 * coalesce(counted.customers, 0) / customers.customers_total end
        as {{ type_double() }}
    ) as share_of_customers
from counted
cross join customers
