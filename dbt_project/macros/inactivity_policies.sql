{#- The inactivity policies of the run (config/inactivity_policies.yml, validated by
    orchestration/lib/policies.py and passed as the var `inactivity_policies`). -#}
{% macro inactivity_policies() -%}
    {%- set policies = var('inactivity_policies', none) -%}
    {%- if policies is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "The var inactivity_policies is missing. Run dbt through Winback (winback run, "
                ~ "the Dagster job), which validates config/inactivity_policies.yml and passes it, "
                ~ "or by hand with --vars \"$(winback dbt-vars)\".") }}
        {%- endif -%}
        {#- Parsing renders the SQL without executing it: any well-formed placeholder will do. -#}
        {{- return({'version': '', 'fixed_rule_id': 'fixed_threshold', 'fixed_threshold_days': 180,
                    'at_risk_band_days': 30, 'lapsed_multiplier': 2, 'reactivated_window_days': 90,
                    'cadence': {'enabled': false}, 'overrides': [],
                    'churn_signals': {'window_days': 90, 'many_service_requests': 3,
                                      'low_satisfaction_max': 3},
                    'model_disagreement': {'p_alive_high': 0.7, 'p_alive_low': 0.3},
                    'model_check': {'holdout_days': 90},
                    'customer_value': {'horizon_days': 365, 'annual_discount_rate': 0.1}}) -}}
    {%- endif -%}
    {{- return(policies) -}}
{%- endmacro %}

{#- A text literal with quotes escaped. -#}
{% macro sql_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
