{{ daily_incremental_config(post_hook=[
    "{{ delete_rows(this, 'customer_id in (select customer_id from ' ~ ref('int_customers_erased') ~ ')') }}"
] + membership_daily_write_hooks()) }}

-- depends_on: {{ ref('int_customers_erased') }}
-- Audience membership per as-of date: every qualifying customer (not left out by a global
-- exclusion list or an exclusion group: see audience_exclusions_daily) with their group (treatment or
-- holdout), a treated member's variant when the audience is split into variants, the day their
-- current spell in the audience started, and whether the frequency cap
-- holds them back. A run replaces its own as-of date only and reads earlier dates only, so a
-- rerun of day D leaves D+1 untouched. Erased customers are removed from every date.
--
-- Spells: a customer who was a member on the previous run date continues their spell (same
-- start, same cap decision); otherwise a new spell starts today. Frequency cap: a new spell is
-- capped when an uncapped spell of the same audience started fewer than frequency_cap_days
-- days earlier. The cap applies to both groups alike, so the holdout stays comparable.
with candidates as (
    select as_of_date, audience, customer_id, holdout_group, variant, definition_hash,
        frequency_cap_days
    from {{ ref('int_audience_candidates') }}
    where exclusion_reason is null
),

{% if is_incremental() %}
previous_run as (
    select max(as_of_date) as as_of_date from {{ this }} where as_of_date < {{ as_of_date() }}
),

previous as (
    select audience, customer_id, holdout_group, spell_started_on, is_capped
    from {{ this }}
    where as_of_date = (select as_of_date from previous_run)
),

-- Only an uncapped spell of the same audience started fewer than frequency_cap_days before the
-- run's date can cap a new one: the rows of such spells are all it reads (every row of a spell is
-- dated on or after its start, so the longest cap also bounds the dates it scans). A day's run
-- does not grow with the history, nor with members whose spell started long ago.
{%- set day = modules.datetime.datetime.strptime(as_of_date_string(), '%Y-%m-%d') %}
{%- set since = {} %}
{#- config/audiences.yml lists at least one audience (orchestration/lib/audiences.py). #}
{%- for audience in audiences()['audiences'] %}
{%- do since.update({audience['name']: (day - modules.datetime.timedelta(
        days=audience['frequency_cap_days'])).strftime('%Y-%m-%d')}) %}
{%- endfor %}
earlier_spells as (
    select audience, customer_id, max(spell_started_on) as last_spell_started_on
    from {{ this }}
    where as_of_date < {{ as_of_date() }}
      and not is_capped
      and as_of_date > cast('{{ since.values() | min }}' as date)
      and (
        {%- for name, start in since.items() %}
          (audience = '{{ name }}' and spell_started_on > cast('{{ start }}' as date))
          {{- ' or' if not loop.last }}
        {%- endfor %}
      )
    group by audience, customer_id
),
{% else %}
previous as (
    select
        cast(null as {{ dbt.type_string() }}) as audience,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as holdout_group,
        cast(null as date) as spell_started_on,
        cast(null as {{ dbt.type_boolean() }}) as is_capped
    where 1 = 0
),

earlier_spells as (
    select
        cast(null as {{ dbt.type_string() }}) as audience,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as date) as last_spell_started_on
    where 1 = 0
),
{% endif %}

decided as (
    select
        candidates.as_of_date,
        candidates.audience,
        candidates.customer_id,
        candidates.holdout_group,
        candidates.variant,
        candidates.definition_hash,
        coalesce(previous.spell_started_on, candidates.as_of_date) as spell_started_on,
        case
            when previous.customer_id is not null then previous.is_capped
            when earlier_spells.last_spell_started_on is not null
                and {{ dbt.datediff('earlier_spells.last_spell_started_on', 'candidates.as_of_date', 'day') }}
                    < candidates.frequency_cap_days then true
            else false
        end as is_capped
    from candidates
    left join previous
        on candidates.audience = previous.audience
        and candidates.customer_id = previous.customer_id
        and candidates.holdout_group = previous.holdout_group
    left join earlier_spells
        on candidates.audience = earlier_spells.audience
        and candidates.customer_id = earlier_spells.customer_id
)

-- holdout_group cast to the contract's type (see audience_exclusions_daily).
select
    as_of_date,
    audience,
    customer_id,
    cast(holdout_group as {{ dbt.type_string() }}) as holdout_group,
    variant,
    definition_hash,
    spell_started_on,
    is_capped,
    holdout_group = 'treatment' and not is_capped as is_exported
from decided
