{{ config(contract={'enforced': true}) }}

-- Contactable share per channel = customers whose verdict is 'contactable' / all customers
-- (the verdict rows of contact_hygiene_summary count each customer once, so they sum to all).
with verdicts as (
    select * from {{ ref('contact_hygiene_summary') }}
    where category = 'verdict'
),

counts as (
    select
        as_of_date,
        channel,
        sum(customers) as customers,
        sum(case when code = 'contactable' then customers else 0 end) as contactable_customers
    from verdicts
    group by as_of_date, channel
)

select
    as_of_date,
    channel,
    cast(customers as {{ dbt.type_bigint() }}) as customers,
    cast(contactable_customers as {{ dbt.type_bigint() }}) as contactable_customers,
    cast({{ ratio('contactable_customers', 'customers') }} as {{ type_double() }})
        as contactable_share
from counts
