{{ config(contract={'enforced': true}) }}

{%- set threshold = var('inactive_threshold_days') | int -%}
{%- set at_risk_from = threshold - (var('at_risk_band_days') | int) -%}
{%- set lapsed_from = threshold * (var('lapsed_multiplier') | int) -%}
{%- set reactivated_window = var('reactivated_window_days') | int %}

-- Fixed-threshold rule: a buyer is inactive once the days since their last purchase reach the
-- threshold; inactive_since is the day they crossed it (last purchase + threshold).
with activity as (
    select * from {{ ref('customer_activity') }}
),

classified as (
    select
        customer_id,
        as_of_date,
        last_order_date,
        days_since_last_order,
        case
            when last_order_date is null then 'prospect'
            when days_since_last_order >= {{ lapsed_from }} then 'lapsed'
            when days_since_last_order >= {{ threshold }} then 'inactive'
            when days_between_last_two_purchases >= {{ threshold }}
                and days_since_last_order < {{ reactivated_window }} then 'reactivated'
            when days_since_last_order >= {{ at_risk_from }} then 'at_risk'
            else 'active'
        end as status
    from activity
)

select
    customer_id,
    as_of_date,
    status,
    cast('{{ var("inactivity_rule_id") }}' as {{ dbt.type_string() }}) as rule_id,
    cast('{{ var("inactivity_rule_version") }}' as {{ dbt.type_string() }}) as rule_version,
    cast({{ threshold }} as {{ dbt.type_int() }}) as threshold_days,
    cast({{ at_risk_from }} as {{ dbt.type_int() }}) as at_risk_from_days,
    cast({{ lapsed_from }} as {{ dbt.type_int() }}) as lapsed_from_days,
    last_order_date,
    days_since_last_order,
    case
        when status in ('inactive', 'lapsed')
            then cast({{ dbt.dateadd('day', threshold, 'last_order_date') }} as date)
    end as inactive_since
from classified
