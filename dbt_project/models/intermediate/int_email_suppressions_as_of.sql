-- Suppressed addresses as of the run date, normalised by the same checks as customers' addresses
-- (lower(trim()) when the checker could not normalise the string), with the latest reason.
with suppressions as (
    select *
    from {{ ref('stg_crm__suppressions') }}
    where occurred_at < {{ as_of_cutoff() }}
),

normalised as (
    select
        coalesce(checks.email_normalized, lower(trim(suppressions.email_raw))) as email_normalized,
        suppressions.suppression_reason,
        suppressions.occurred_at,
        suppressions._source_file,
        suppressions._source_row
    from suppressions
    left join {{ ref('stg_hygiene__email_checks') }} as checks
        on suppressions.email_raw = checks.email_raw
),

ranked as (
    select
        *,
        {{ version_rank_as_of('email_normalized', 'occurred_at') }} as suppression_rank
    from normalised
)

select
    email_normalized,
    suppression_reason,
    occurred_at as suppressed_at
from ranked
where suppression_rank = 1
