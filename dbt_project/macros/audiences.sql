{#- The audience definitions of the run (config/audiences.yml, validated by
    orchestration/lib/audiences.py and passed as the var `audiences`). -#}
{% macro audiences() -%}
    {%- set config = var('audiences', none) -%}
    {%- if config is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "The var audiences is missing. Run dbt through Winback (winback run, the Dagster "
                ~ "job), which validates config/audiences.yml and passes it, or by hand with "
                ~ "--vars \"$(winback dbt-vars)\".") }}
        {%- endif -%}
        {#- Parsing renders the SQL without executing it: one well-formed placeholder will do. -#}
        {{- return({'version': '', 'holdout_seed': 'x', 'conversion_window_days': 30, 'audiences': [
            {'name': 'placeholder', 'definition_hash': '', 'purpose': 'promotion',
             'statuses': ['inactive'], 'rfm_segments': [], 'min_revenue': none,
             'days_inactive_min': none, 'days_inactive_max': none,
             'points_expiring_within_days': none, 'channel': 'email', 'frequency_cap_days': 0,
             'holdout_share': 0, 'min_clv': none, 'min_expected_purchases_90d': none,
             'order_by': 'customer_id', 'variants': []}]}) -}}
    {%- endif -%}
    {{- return(config) -}}
{%- endmacro %}

{#- The conversion window in days: how long after a spell's send date a purchase counts as a
    conversion (int_audience_spells_measured and the reactivation outcomes). -#}
{% macro conversion_window_days() -%}
    {{- return(audiences()['conversion_window_days'] | int) -}}
{%- endmacro %}

{#- A list of text literals: ('a', 'b'). Values come from validated fixed vocabularies. -#}
{% macro text_list(values) -%}
    ({%- for value in values -%}'{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}

{#- The holdout bucket of a customer in an audience: the first 8 hex digits of
    md5(seed|audience|customer_id) as an integer in [0, 2^32). orchestration/lib/audiences.py
    computes the same number; holdout when bucket < share x 2^32. -#}
{% macro holdout_bucket(seed, audience_expr, customer_expr) -%}
    {%- set hashed = dbt.hash(dbt.concat(["'" ~ seed ~ "|'", audience_expr, "'|'", customer_expr])) -%}
    {{ return(adapter.dispatch('hex8_to_bigint', 'winback')(hashed)) }}
{%- endmacro %}

{#- The variant bucket: the holdout's scheme with another salt, md5(seed|variant|audience|
    customer_id), so variants are independent of the holdout split. orchestration/lib/
    audiences.py (variant_bucket) computes the same number. -#}
{% macro variant_bucket(seed, audience_expr, customer_expr) -%}
    {{ return(holdout_bucket(seed ~ '|variant', audience_expr, customer_expr)) }}
{%- endmacro %}

{#- The variant of a treated member of `audience` (one with variants): the first variant, in
    the order listed, whose cumulative share x 2^32 is above the customer's variant bucket; the
    last takes the rest. assign_variant in orchestration/lib/audiences.py does the same. -#}
{% macro audience_variant(audience, seed, customer_expr) -%}
    {%- set ns = namespace(cumulative=0.0) -%}
    {%- set bucket = variant_bucket(seed, "'" ~ audience['name'] ~ "'", customer_expr) -%}
    case
    {%- for variant in audience['variants'][:-1] %}
        {%- set ns.cumulative = ns.cumulative + variant['share'] %}
        when {{ bucket }} < {{ ns.cumulative * 4294967296 }} then '{{ variant['name'] }}'
    {%- endfor %}
        else '{{ audience['variants'][-1]['name'] }}'
    end
{%- endmacro %}

{% macro default__hex8_to_bigint(hex_expression) -%}
    {{ exceptions.raise_compiler_error("hex8_to_bigint (the holdout bucket) has no implementation for "
        ~ "the adapter " ~ adapter.type() ~ ": add one in macros/audiences.sql") }}
{%- endmacro %}

{% macro postgres__hex8_to_bigint(hex_expression) -%}
    (('x' || substr({{ hex_expression }}, 1, 8))::bit(32)::bigint & 4294967295)
{%- endmacro %}

{% macro spark__hex8_to_bigint(hex_expression) -%}
    cast(conv(substr({{ hex_expression }}, 1, 8), 16, 10) as bigint)
{%- endmacro %}

{% macro duckdb__hex8_to_bigint(hex_expression) -%}
    cast(cast('0x' || substr({{ hex_expression }}, 1, 8) as ubigint) as bigint)
{%- endmacro %}

{#- An audience's value for ordering and for the ad platforms' value column: the measure named
    by order_by, with revenue in the main currency standing in for the model's measures when the
    day's model check failed. Null when ordered by customer id. -#}
{% macro audience_member_value(audience) -%}
    {%- set order_by = audience.get('order_by') or 'customer_id' -%}
    {%- if order_by in ('clv', 'expected_purchases_90d') -%}
    case when base.model_check_passed then base.{{ order_by }}
         else base.revenue_main_currency end
    {%- elif order_by == 'revenue_main_currency' -%}
    base.revenue_main_currency
    {%- else -%}
    null
    {%- endif -%}
{%- endmacro %}

{#- The value floors of an audience: the model's floors (min_clv, min_expected_purchases_90d) when
    the day's model check passed, else min_revenue. -#}
{% macro audience_value_floor(audience) -%}
    {%- set model_floors = [] -%}
    {%- if audience.get('min_clv') is not none -%}
        {%- do model_floors.append('base.clv >= ' ~ audience['min_clv']) -%}
    {%- endif -%}
    {%- if audience.get('min_expected_purchases_90d') is not none -%}
        {%- do model_floors.append('base.expected_purchases_90d >= '
                                   ~ audience['min_expected_purchases_90d']) -%}
    {%- endif -%}
    {%- if model_floors -%}
    and case when base.model_check_passed then {{ model_floors | join(' and ') }}
             else base.revenue_main_currency >= {{ audience['min_revenue'] }} end
    {%- elif audience['min_revenue'] is not none -%}
    and base.revenue_main_currency >= {{ audience['min_revenue'] }}
    {%- endif -%}
{%- endmacro %}
