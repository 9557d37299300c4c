{#- The run's as-of date D. A run as of D sees only what existed by the end of D (UTC).
    The var as_of_date wins (dbt by hand with `winback dbt-vars`, unit tests); otherwise the date
    the Winback dbt step wrote to meta.run_context, read while executing, so the date is not a
    --vars value and a new day keeps dbt's partial parse; dbt alone without either uses today. -#}
{% macro as_of_date_string() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or value == '' -%}
        {%- set value = run_context_as_of_date() -%}
    {%- endif -%}
    {%- if value is none -%}
        {{- return(run_started_at.strftime('%Y-%m-%d')) -}}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.strptime(value | string, '%Y-%m-%d') -%}
    {{- return(parsed.strftime('%Y-%m-%d')) -}}
{%- endmacro %}

{#- meta.run_context's as-of date, or none while parsing or when the table does not exist.
    Read once per node context: a model names the date in its SQL and its hooks up to eight
    times, and each read was a query (~75 per run). The node's `model` dict, shared by every
    macro rendered for that node (compiling, then its hooks), keeps the value; the table is
    written before dbt starts, so it cannot change within a run. -#}
{% macro run_context_as_of_date() -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set memo = model if model is mapping else {} -%}
    {%- if 'winback_run_context_as_of_date' in memo -%}
        {{- return(memo['winback_run_context_as_of_date']) -}}
    {%- endif -%}
    {%- set relation = adapter.get_relation(database=target.get('database'), schema='meta',
                                            identifier='run_context') -%}
    {%- set value = none -%}
    {%- if relation is not none -%}
        {%- set rows = run_query('select as_of_date from ' ~ relation) -%}
        {%- if rows | length != 1 -%}
            {{ exceptions.raise_compiler_error(relation ~ " must hold exactly one row, the run's "
                ~ "as-of date; it holds " ~ (rows | length)) }}
        {%- endif -%}
        {%- set value = rows.columns[0].values()[0] | string -%}
    {%- endif -%}
    {%- do memo.update({'winback_run_context_as_of_date': value}) -%}
    {{- return(value) -}}
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
