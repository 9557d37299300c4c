{{ config(contract={'enforced': true}) }}
{%- set window = conversion_window_days() %}

-- A/B/n splits: per audience, send date and variant, the variant's treated customers against
-- the whole holdout of that audience and send date (the holdout is shared by every variant),
-- how many bought within the conversion window, and the variant's absolute lift with a 95 %
-- Wald confidence interval, as in reactivation_outcomes. Only audiences split into variants
-- have rows; capped spells count in no group.
with spell_outcomes as (
    select
        audience,
        send_date,
        customer_id,
        holdout_group,
        variant,
        max(case when purchases_count > 0 then 1 else 0 end) as converted
    from {{ ref('int_audience_spells_measured') }}
    group by audience, send_date, customer_id, holdout_group, variant
),

treated as (
    select
        audience,
        send_date,
        variant,
        count(*) as treated_customers,
        sum(converted) as treated_conversions
    from spell_outcomes
    where holdout_group = 'treatment' and variant is not null
    group by audience, send_date, variant
),

holdout as (
    select
        audience,
        send_date,
        count(*) as holdout_customers,
        sum(converted) as holdout_conversions
    from spell_outcomes
    where holdout_group = 'holdout'
    group by audience, send_date
),

rates as (
    select
        treated.audience,
        treated.send_date,
        treated.variant,
        treated.treated_customers,
        treated.treated_conversions,
        coalesce(holdout.holdout_customers, 0) as holdout_customers,
        coalesce(holdout.holdout_conversions, 0) as holdout_conversions,
        cast(treated.treated_conversions as {{ type_double() }}) / treated.treated_customers
            as treated_conversion_rate,
        case when holdout.holdout_customers > 0
            then cast(holdout.holdout_conversions as {{ type_double() }}) / holdout.holdout_customers
        end as holdout_conversion_rate
    from treated
    left join holdout
        on treated.audience = holdout.audience and treated.send_date = holdout.send_date
)

{{ conversion_lift('rates', ['audience', 'send_date', 'variant'], window) }}
