{{ config(contract={'enforced': true}) }}

-- Audience sizes per as-of date, audience and group: qualifying customers, how many the
-- frequency cap held back and how many were exported. Counts only, so BI can chart them
-- without touching a customer row.
with membership as (
    select * from {{ ref('audience_membership_daily') }}
)

select
    as_of_date,
    audience,
    holdout_group,
    cast(count(*) as {{ dbt.type_int() }}) as customers,
    cast(sum(case when is_capped then 1 else 0 end) as {{ dbt.type_int() }}) as capped_customers,
    cast(sum(case when is_exported then 1 else 0 end) as {{ dbt.type_int() }})
        as exported_customers
from membership
group by as_of_date, audience, holdout_group
