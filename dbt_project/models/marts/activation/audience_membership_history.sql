{{ membership_history_config() }}

-- depends_on: {{ ref('int_customers_erased') }}

-- Who entered and left each audience, when, and in which group: one row per membership spell,
-- derived from the daily membership rows. left_on is the first run date after the spell on
-- which the customer was no longer a member (null while the spell lasts). Customers who
-- qualified but were left out (a global exclusion list, or a higher-priority audience of the
-- same exclusion group) have spells too, with exclusion_reason and excluded_by saying why; they
-- are in no group and were never exported. A daily run recomputes the spells of the customers
-- on its date and the previous run date only, when nothing else changed (macros/membership_history.sql).
with daily as (
    {{ membership_history_rows(ref('audience_membership_daily')) }}
),

exclusions as (
    {{ membership_history_rows(ref('audience_exclusions_daily')) }}
),

run_dates as (
    {{ membership_run_dates() }}
),

numbered_runs as (
    select as_of_date, row_number() over (order by as_of_date) as run_number
    from run_dates
),

spells as (
    select
        audience,
        customer_id,
        spell_started_on,
        -- cast: PostgreSQL's max of a varchar is text, which the incremental build would
        -- compare with the table's varchar.
        cast(max(holdout_group) as {{ dbt.type_string() }}) as holdout_group,
        cast(max(variant) as {{ dbt.type_string() }}) as variant,
        cast(max(definition_hash) as {{ dbt.type_string() }}) as definition_hash,
        max(case when is_capped then 1 else 0 end) = 1 as is_capped,
        max(as_of_date) as last_member_on
    from daily
    group by audience, customer_id, spell_started_on
),

-- Consecutive run dates with the same reason and cause form one exclusion spell.
exclusion_islands as (
    select
        exclusions.*,
        numbered_runs.run_number - row_number() over (
            partition by exclusions.audience, exclusions.customer_id,
                exclusions.exclusion_reason, exclusions.excluded_by
            order by exclusions.as_of_date
        ) as island
    from exclusions
    inner join numbered_runs on exclusions.as_of_date = numbered_runs.as_of_date
),

exclusion_spells as (
    select
        audience,
        customer_id,
        exclusion_reason,
        excluded_by,
        min(as_of_date) as entered_on,
        max(as_of_date) as last_member_on
    from exclusion_islands
    group by audience, customer_id, exclusion_reason, excluded_by, island
)

select
    spells.audience,
    spells.customer_id,
    spells.holdout_group,
    spells.variant,
    spells.spell_started_on as entered_on,
    (select min(run_dates.as_of_date) from run_dates
     where run_dates.as_of_date > spells.last_member_on) as left_on,
    spells.last_member_on,
    spells.is_capped,
    spells.holdout_group = 'treatment' and not spells.is_capped as was_exported,
    spells.definition_hash,
    cast(null as {{ dbt.type_string() }}) as exclusion_reason,
    cast(null as {{ dbt.type_string() }}) as excluded_by
from spells

union all

select
    exclusion_spells.audience,
    exclusion_spells.customer_id,
    cast(null as {{ dbt.type_string() }}) as holdout_group,
    cast(null as {{ dbt.type_string() }}) as variant,
    exclusion_spells.entered_on,
    (select min(run_dates.as_of_date) from run_dates
     where run_dates.as_of_date > exclusion_spells.last_member_on) as left_on,
    exclusion_spells.last_member_on,
    false as is_capped,
    false as was_exported,
    cast(null as {{ dbt.type_string() }}) as definition_hash,
    exclusion_spells.exclusion_reason,
    exclusion_spells.excluded_by
from exclusion_spells
