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

{#- Ranks the delivered versions of each record (partition_by) as of the as-of day, 1 = the one a
    run as of D uses: the latest version known by the end of D (version_at null counts as known),
    or, when every version is later, the earliest one. Ties go to the later delivery (source file,
    then row). Filter on rank 1 in an outer select. -#}
{% macro version_rank_as_of(partition_by, version_at) -%}
    {%- set is_known -%}
        ({{ version_at }} is null or {{ version_at }} < {{ as_of_cutoff() }})
    {%- endset -%}
    row_number() over (
        partition by {{ partition_by }}
        order by
            case when {{ is_known }} then 0 else 1 end,
            case when {{ is_known }} then {{ version_at }} end desc,
            {{ version_at }},
            _source_file desc,
            _source_row desc
    )
{%- endmacro %}
