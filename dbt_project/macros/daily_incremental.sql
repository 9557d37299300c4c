{#- Config of the marts that keep a row set per recorded as-of date: a run replaces the rows of
    its own date (delete+insert on as_of_date) and never rebuilds the history (full_refresh=false),
    a changed column list stops the run, and the contract is enforced. post_hook: SQL strings run
    after each build, e.g. removing erased customers. -#}
{% macro daily_incremental_config(post_hook=[]) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
        full_refresh=false,
        contract={'enforced': true},
        post_hook=post_hook,
    ) }}
{%- endmacro %}
