{{ config(contract={'enforced': true}) }}

{%- set p = inactivity_policies() -%}
{%- set cadence = p['cadence'] -%}
{%- set disagreement = p['model_disagreement'] %}

-- Which rule sets each buyer's threshold: the first matching override (last category or RFM
-- segment), else the cadence rule for customers with enough history, else the fixed threshold.
-- Statuses then follow from the days since the last purchase and the bands around the threshold.
with activity as (
    select * from {{ ref('customer_activity') }}
),

signals as (
    select * from {{ ref('int_customer_churn_signals') }}
),

bgnbd as (
    select * from {{ ref('stg_predictions__customer_bgnbd') }}
),

-- The out-of-time check of the model for this date: its disagreement flag is trusted only then.
model_check as (
    select * from {{ ref('stg_predictions__bgnbd_model_check') }}
),

rules as (
    select
        activity.*,
        {%- if p['overrides'] or cadence['enabled'] %}
        case
            {%- for o in p['overrides'] %}
            when {{ o['match_field'] }} = {{ sql_text(o['match_value']) }} then {{ sql_text(o['rule_id']) }}
            {%- endfor %}
            {%- if cadence['enabled'] %}
            when order_days_count >= {{ cadence['min_purchase_days'] }}
                and median_days_between_purchases is not null then {{ sql_text(cadence['rule_id']) }}
            {%- endif %}
            else {{ sql_text(p['fixed_rule_id']) }}
        end as rule_id
        {%- else %}
        {{ sql_text(p['fixed_rule_id']) }} as rule_id
        {%- endif %}
    from activity
),

thresholds as (
    select
        *,
        {%- if p['overrides'] or cadence['enabled'] %}
        case
            {%- for o in p['overrides'] %}
            when rule_id = {{ sql_text(o['rule_id']) }} then {{ o['threshold_days'] }}
            {%- endfor %}
            {%- if cadence['enabled'] %}
            when rule_id = {{ sql_text(cadence['rule_id']) }} then least(
                {{ cadence['ceiling_days'] }},
                greatest(
                    {{ cadence['floor_days'] }},
                    cast(ceiling({{ cadence['multiplier'] }} * median_days_between_purchases)
                        as {{ dbt.type_int() }})
                )
            )
            {%- endif %}
            else {{ p['fixed_threshold_days'] }}
        end as threshold_days
        {%- else %}
        {{ p['fixed_threshold_days'] }} as threshold_days
        {%- endif %}
    from rules
),

bands as (
    select
        *,
        threshold_days - {{ p['at_risk_band_days'] }} as at_risk_from_days,
        cast(floor({{ p['lapsed_multiplier'] }} * threshold_days) as {{ dbt.type_int() }})
            as lapsed_from_days
    from thresholds
),

classified as (
    select
        *,
        case
            when last_order_date is null then 'prospect'
            when days_since_last_order >= lapsed_from_days then 'lapsed'
            when days_since_last_order >= threshold_days then 'inactive'
            when days_between_last_two_purchases >= threshold_days
                and days_since_last_order < {{ p['reactivated_window_days'] }} then 'reactivated'
            when days_since_last_order >= at_risk_from_days then 'at_risk'
            else 'active'
        end as status
    from bands
)

select
    classified.customer_id,
    classified.as_of_date,
    cast(classified.status as {{ dbt.type_string() }}) as status,
    cast(classified.rule_id as {{ dbt.type_string() }}) as rule_id,
    cast({{ sql_text(p['version']) }} as {{ dbt.type_string() }}) as rule_version,
    cast(classified.threshold_days as {{ dbt.type_int() }}) as threshold_days,
    cast(classified.at_risk_from_days as {{ dbt.type_int() }}) as at_risk_from_days,
    cast(classified.lapsed_from_days as {{ dbt.type_int() }}) as lapsed_from_days,
    classified.last_order_date,
    classified.days_since_last_order,
    case
        when classified.status in ('inactive', 'lapsed')
            then cast({{ dbt.dateadd('day', 'classified.threshold_days', 'classified.last_order_date') }} as date)
    end as inactive_since,
    classified.rfm_segment,
    coalesce(signals.has_complaint_signal, false) as has_complaint_signal,
    coalesce(signals.has_many_service_requests_signal, false) as has_many_service_requests_signal,
    coalesce(signals.has_discount_request_signal, false) as has_discount_request_signal,
    coalesce(signals.has_low_satisfaction_signal, false) as has_low_satisfaction_signal,
    signals.customer_id is not null as has_churn_signal,
    cast(signals.churn_signal_reasons as {{ dbt.type_string() }}) as churn_signal_reasons,
    cast(bgnbd.p_alive as {{ type_double() }}) as p_alive,
    cast(bgnbd.expected_purchases_30d as {{ type_double() }}) as expected_purchases_30d,
    cast(bgnbd.expected_purchases_90d as {{ type_double() }}) as expected_purchases_90d,
    cast(bgnbd.clv_currency as {{ dbt.type_string() }}) as clv_currency,
    cast(bgnbd.expected_spend_per_purchase as {{ type_double() }}) as expected_spend_per_purchase,
    cast(bgnbd.clv as {{ type_double() }}) as clv,
    coalesce(model_check.passed, false) as model_check_passed,
    cast(case
        when classified.bgnbd_frequency < 1 or bgnbd.p_alive is null then null
        when not coalesce(model_check.passed, false) then null
        when classified.status in ('inactive', 'lapsed')
            and bgnbd.p_alive >= {{ disagreement['p_alive_high'] }} then 'rule_inactive_model_alive'
        when classified.status in ('active', 'reactivated')
            and bgnbd.p_alive < {{ disagreement['p_alive_low'] }} then 'rule_active_model_dormant'
    end as {{ dbt.type_string() }}) as model_disagreement
from classified
left join signals on classified.customer_id = signals.customer_id
left join bgnbd
    on classified.customer_id = bgnbd.customer_id and classified.as_of_date = bgnbd.as_of_date
left join model_check on classified.as_of_date = model_check.as_of_date
