{{ membership_history_config() }}

-- depends_on: {{ ref('int_customers_erased') }}

-- Who entered and left each audience, when, and in which group: one row per membership spell,
-- derived from the daily membership rows. left_on is the first run date after the spell on
-- which the customer was no longer a member (null while the spell lasts). Customers who
-- qualified but were left out (a global exclusion list, or a higher-priority audience of the
-- same exclusion group) have spells too, with exclusion_reason and excluded_by saying why; they
-- are in no group and were never exported.
-- A daily run whose date D follows the last build's newest run date P, with nothing else written
-- since, updates the spells from the last build instead of every daily row
-- (macros/membership_history.sql): the spells open on P and the rows of D are all it reads.
{%- set previous = membership_history_previous() %}
with
{%- if previous is none %}
daily as (
    select * from {{ ref('audience_membership_daily') }}
),

exclusions as (
    select * from {{ ref('audience_exclusions_daily') }}
),

run_dates as (
    {{ membership_run_dates() }}
),

numbered_runs as (
    select as_of_date, row_number() over (order by as_of_date) as run_number
    from run_dates
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
),
{%- else %}
day_members as (
    select * from {{ ref('audience_membership_daily') }} where as_of_date = {{ as_of_date() }}
),

day_exclusions as (
    select * from {{ ref('audience_exclusions_daily') }} where as_of_date = {{ as_of_date() }}
),

-- The only run date after P: D, when either table has a row on it.
run_dates as (
    select as_of_date from day_members
    union
    select as_of_date from day_exclusions
),

-- Each spell of the last build that D may extend (open on P, or the spell a row of D names) as
-- one row holding its aggregates, dated its last day, beside D's rows: the spells computed
-- from them below equal those computed from every row (maxima of maxima), and a spell open on P
-- without a row on D ends on P.
daily as (
    select
        last_member_on as as_of_date,
        audience,
        customer_id,
        holdout_group,
        variant,
        definition_hash,
        entered_on as spell_started_on,
        is_capped
    from {{ this }}
    where exclusion_reason is null
      and (left_on is null
           or (audience, customer_id, entered_on) in (
               select audience, customer_id, spell_started_on from day_members))
    union all
    select
        as_of_date, audience, customer_id, holdout_group, variant, definition_hash,
        spell_started_on, is_capped
    from day_members
),

open_exclusions as (
    select * from {{ this }} where exclusion_reason is not null and left_on is null
),

-- An exclusion on D continues the spell open on P with the same reason and cause, else starts
-- one; a spell open on P without it ends on P.
exclusion_spells as (
    select
        day_exclusions.audience,
        day_exclusions.customer_id,
        day_exclusions.exclusion_reason,
        day_exclusions.excluded_by,
        coalesce(open_exclusions.entered_on, day_exclusions.as_of_date) as entered_on,
        day_exclusions.as_of_date as last_member_on
    from day_exclusions
    left join open_exclusions
        on open_exclusions.audience = day_exclusions.audience
        and open_exclusions.customer_id = day_exclusions.customer_id
        and open_exclusions.exclusion_reason is not distinct from day_exclusions.exclusion_reason
        and open_exclusions.excluded_by is not distinct from day_exclusions.excluded_by
    union all
    select audience, customer_id, exclusion_reason, excluded_by, entered_on, last_member_on
    from open_exclusions
    where not exists (
        select 1 from day_exclusions
        where day_exclusions.audience = open_exclusions.audience
          and day_exclusions.customer_id = open_exclusions.customer_id
          and day_exclusions.exclusion_reason is not distinct from open_exclusions.exclusion_reason
          and day_exclusions.excluded_by is not distinct from open_exclusions.excluded_by
    )
),
{%- endif %}

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
