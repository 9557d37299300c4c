{{ config(contract={'enforced': true}) }}

-- Who entered and left each audience, when, and in which group: one row per membership spell,
-- derived from the daily membership rows. left_on is the first run date after the spell on
-- which the customer was no longer a member (null while the spell lasts).
with daily as (
    select * from {{ ref('audience_membership_daily') }}
),

run_dates as (
    select distinct as_of_date from daily
),

spells as (
    select
        audience,
        customer_id,
        spell_started_on,
        max(holdout_group) as holdout_group,
        max(definition_hash) as definition_hash,
        max(case when is_capped then 1 else 0 end) = 1 as is_capped,
        max(as_of_date) as last_member_on
    from daily
    group by audience, customer_id, spell_started_on
)

select
    spells.audience,
    spells.customer_id,
    spells.holdout_group,
    spells.spell_started_on as entered_on,
    (select min(run_dates.as_of_date) from run_dates
     where run_dates.as_of_date > spells.last_member_on) as left_on,
    spells.last_member_on,
    spells.is_capped,
    spells.holdout_group = 'treatment' and not spells.is_capped as was_exported,
    spells.definition_hash
from spells
