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
             'holdout_share': 0}]}) -}}
    {%- endif -%}
    {{- return(config) -}}
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
