{#- The run's as-of date D. A run as of D sees only what existed by the end of D (UTC). -#}
{% macro as_of_date_string() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or value == '' -%}
        {{- return(run_started_at.strftime('%Y-%m-%d')) -}}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.strptime(value | string, '%Y-%m-%d') -%}
    {{- return(parsed.strftime('%Y-%m-%d')) -}}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_date_string() }}' as date)
{%- endmacro %}

{#- Exclusive upper bound of the as-of day, as a UTC timestamp. -#}
{% macro as_of_cutoff() -%}
    {%- set day = modules.datetime.datetime.strptime(as_of_date_string(), '%Y-%m-%d') -%}
    {%- set next_day = day + modules.datetime.timedelta(days=1) -%}
    cast('{{ next_day.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
