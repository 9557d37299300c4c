-- Entries of the global exclusion lists in force at the end of the as-of date: each entry (list,
-- customer id, normalised email) in its latest version added by then, unless that version was
-- removed by then. Emails are normalised by the same checks as customers' addresses
-- (lower(trim()) when the checker could not normalise the string), so any spelling matches.
with entries as (
    select *
    from {{ ref('stg_crm__exclusions') }}
    where added_at < {{ as_of_cutoff() }}
),

normalised as (
    select
        entries.list_name,
        entries.customer_id,
        case
            when entries.email_raw is not null
                then coalesce(checks.email_normalized, lower(trim(entries.email_raw)))
        end as email_normalized,
        entries.added_at,
        entries.removed_at,
        entries._source_file,
        entries._source_row
    from entries
    left join {{ ref('stg_hygiene__email_checks') }} as checks
        on entries.email_raw = checks.email_raw
),

ranked as (
    select
        *,
        {{ version_rank_as_of(
            "list_name, coalesce(customer_id, ''), coalesce(email_normalized, '')", 'added_at'
        ) }} as entry_rank
    from normalised
)

select
    list_name,
    customer_id,
    email_normalized,
    added_at
from ranked
where entry_rank = 1
  and (removed_at is null or removed_at >= {{ as_of_cutoff() }})
