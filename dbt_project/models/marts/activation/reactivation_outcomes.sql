{{ config(contract={'enforced': true}) }}
{%- set window = conversion_window_days() %}

-- Did win-back work? Per audience and send date (the day a membership spell started: the
-- treatment group's adds file), treated vs holdout customers, how many bought within the
-- conversion window after the send date, conversion rates, and the absolute lift (treated
-- rate - holdout rate) with a 95 % Wald confidence interval. Spells held back by the frequency
-- cap are left out of both groups. Purchases count up to the run's as-of date, so a send date
-- whose window has not ended yet is marked incomplete.
with spell_outcomes as (
    select
        audience,
        send_date,
        customer_id,
        holdout_group,
        max(case when purchases_count > 0 then 1 else 0 end) as converted
    from {{ ref('int_audience_spells_measured') }}
    group by audience, send_date, customer_id, holdout_group
),

grouped as (
    select
        audience,
        send_date,
        sum(case when holdout_group = 'treatment' then 1 else 0 end) as treated_customers,
        sum(case when holdout_group = 'treatment' then converted else 0 end) as treated_conversions,
        sum(case when holdout_group = 'holdout' then 1 else 0 end) as holdout_customers,
        sum(case when holdout_group = 'holdout' then converted else 0 end) as holdout_conversions
    from spell_outcomes
    group by audience, send_date
),

rates as (
    select
        *,
        case when treated_customers > 0
            then cast(treated_conversions as {{ type_double() }}) / treated_customers
        end as treated_conversion_rate,
        case when holdout_customers > 0
            then cast(holdout_conversions as {{ type_double() }}) / holdout_customers
        end as holdout_conversion_rate
    from grouped
)

{{ conversion_lift('rates', ['audience', 'send_date'], window) }}
