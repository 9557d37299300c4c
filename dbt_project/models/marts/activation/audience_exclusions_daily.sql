{{ daily_incremental_config(post_hook=[
    "{{ delete_rows(this, 'customer_id in (select customer_id from ' ~ ref('int_customers_erased') ~ ')') }}"
] + membership_daily_write_hooks()) }}

-- depends_on: {{ ref('int_customers_erased') }}
-- Who qualified for an audience on an as-of date but was left out, and why: a global exclusion
-- list (excluded_by = the list) or a higher-priority audience of the same exclusion group
-- (excluded_by = that audience). A run replaces its own as-of date only; erased customers are
-- removed from every date.
-- The case-built texts cast to the contract's type: PostgreSQL types them `text`, the contract's
-- `varchar` is `character varying`, and an incremental build compares the two.
select
    as_of_date,
    audience,
    customer_id,
    cast(exclusion_reason as {{ dbt.type_string() }}) as exclusion_reason,
    cast(excluded_by as {{ dbt.type_string() }}) as excluded_by,
    exclusion_group
from {{ ref('int_audience_candidates') }}
where exclusion_reason is not null
