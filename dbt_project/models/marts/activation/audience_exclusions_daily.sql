{{ daily_incremental_config(post_hook=[
    "{{ delete_rows(this, 'customer_id in (select customer_id from ' ~ ref('int_customers_erased') ~ ')') }}"
]) }}

-- depends_on: {{ ref('int_customers_erased') }}
-- Who qualified for an audience on an as-of date but was left out, and why: a global exclusion
-- list (excluded_by = the list) or a higher-priority audience of the same exclusion group
-- (excluded_by = that audience). A run replaces its own as-of date only; erased customers are
-- removed from every date.
select
    as_of_date,
    audience,
    customer_id,
    exclusion_reason,
    excluded_by,
    exclusion_group
from {{ ref('int_audience_candidates') }}
where exclusion_reason is not null
