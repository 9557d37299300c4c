{{ config(contract={'enforced': true}) }}

-- What leaves the warehouse today: for each audience, the members exported as of the run date
-- (treatment group, not held back by the frequency cap) with the columns their files may carry.
-- Holdout and capped members stay in audience_membership_daily and are never exported.
with exported as (
    select audience, customer_id, spell_started_on
    from {{ ref('audience_membership_daily') }}
    where as_of_date = {{ as_of_date() }} and is_exported
),

candidates as (
    select * from {{ ref('int_audience_candidates') }}
)

select
    candidates.audience,
    candidates.customer_id,
    candidates.as_of_date,
    candidates.definition_hash,
    exported.spell_started_on as entered_on,
    candidates.variant,
    candidates.email,
    candidates.phone,
    candidates.first_name,
    candidates.last_name,
    candidates.country,
    candidates.postal_code,
    candidates.status,
    candidates.last_order_date,
    candidates.days_since_last_order,
    candidates.inactive_since,
    candidates.last_category,
    candidates.rfm_segment,
    candidates.revenue_main_currency,
    candidates.main_currency,
    candidates.loyalty_points,
    cast(candidates.points_expiring as {{ dbt.type_int() }}) as points_expiring,
    candidates.points_expire_on,
    candidates.clv,
    candidates.expected_purchases_90d,
    candidates.member_value
from candidates
inner join exported
    on candidates.audience = exported.audience and candidates.customer_id = exported.customer_id
