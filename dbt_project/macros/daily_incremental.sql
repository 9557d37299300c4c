{#- Config of the marts that keep a row set per recorded as-of date: a run replaces the rows of
    its own date and never rebuilds the history (full_refresh=false), a changed column list stops
    the run, and the contract is enforced. pre_hook and post_hook: SQL strings run before and
    after each build, e.g. delete_rows() removing erased customers. How a date is replaced is
    the adapter's: delete+insert on as_of_date (DuckDB, PostgreSQL), insert_overwrite of the
    as_of_date partitions on Spark (whose Parquet tables have no DELETE). -#}
{% macro daily_incremental_config(post_hook=[], pre_hook=[]) -%}
    {{ return(adapter.dispatch('daily_incremental_config', 'winback')(post_hook, pre_hook)) }}
{%- endmacro %}

{% macro default__daily_incremental_config(post_hook, pre_hook) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
        full_refresh=false,
        contract={'enforced': true},
        pre_hook=pre_hook,
        post_hook=post_hook,
    ) }}
{%- endmacro %}

{% macro spark__daily_incremental_config(post_hook, pre_hook) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['as_of_date'],
        file_format='parquet',
        on_schema_change='fail',
        full_refresh=false,
        contract={'enforced': true},
        pre_hook=pre_hook,
        post_hook=post_hook,
    ) }}
{%- endmacro %}

{#- In a post-hook of a daily incremental mart: remove the rows where `condition` holds. -#}
{% macro delete_rows(relation, condition) -%}
    {{ return(adapter.dispatch('delete_rows', 'winback')(relation, condition)) }}
{%- endmacro %}

{% macro default__delete_rows(relation, condition) -%}
    delete from {{ relation }} where {{ condition }}
{%- endmacro %}

{#- Spark: drop the as_of_date partitions none of whose rows is kept, then rewrite the others
    with the rows kept (dynamic partition overwrite replaces only the partitions the select
    returns). -#}
{% macro spark__delete_rows(relation, condition) -%}
    {%- set kept = 'not coalesce(' ~ condition ~ ', false)' -%}
    {%- if execute -%}
        {%- set emptied = run_query(
            'select distinct cast(as_of_date as string) from ' ~ relation
            ~ ' except select distinct cast(as_of_date as string) from ' ~ relation
            ~ ' where ' ~ kept) -%}
        {%- for row in emptied.rows -%}
            {%- do run_query('alter table ' ~ relation ~ " drop if exists partition (as_of_date = '"
                             ~ row[0] ~ "')") -%}
        {%- endfor -%}
    {%- endif %}
    insert overwrite table {{ relation }} partition (as_of_date)
    select * from {{ relation }} where {{ kept }}
{%- endmacro %}
