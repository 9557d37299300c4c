{#- The tables in the `meta` schema where models record how they were built (incremental state,
    write logs), beside meta.run_context. -#}

{% macro meta_relation(identifier) -%}
    {{- return(api.Relation.create(database=target.get('database'), schema='meta',
                                   identifier=identifier)) -}}
{%- endmacro %}

{#- Whether dbt's relation cache (or, for a schema it has not listed yet, the database) knows
    `relation`. -#}
{% macro relation_exists(relation) -%}
    {{- return(adapter.get_relation(database=relation.database, schema=relation.schema,
                                    identifier=relation.identifier) is not none) -}}
{%- endmacro %}

{#- In a hook: creates `relation` (and its schema) with `columns` only when dbt's relation cache
    does not know it, so a daily run spends no create schema / create table statements (five
    queries per model) on a table that is there. A table the cache missed is created with
    `if not exists`, which changes nothing. -#}
{% macro ensure_meta_table(relation, columns) -%}
    {%- if not relation_exists(relation) -%}
        {%- do adapter.create_schema(relation) -%}
        create table if not exists {{ relation }} ({{ columns }})
    {%- endif -%}
{%- endmacro %}

{#- `decide()`'s answer (a macro's) to how this build of an existing incremental table goes:
    asked when the model's SQL is compiled and once more for all its hooks (the node's `model`
    dict keeps it under `key` between the pre-hooks and post-hooks; compiling has a dict of its
    own). Nothing writes between the two, so they agree. none for a table that is not there yet
    (a first build), without asking. -#}
{% macro incremental_decision(key, decide) -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set memo = model if model is mapping else {} -%}
    {%- if key not in memo -%}
        {%- do memo.update({key: decide()}) -%}
    {%- endif -%}
    {{- return(memo[key]) -}}
{%- endmacro %}

{#- The hooks a daily table runs to log its writes for an incremental history: `hooks` on DuckDB
    and PostgreSQL; none on Spark, whose histories are rebuilt each run and keep no log. -#}
{% macro write_log_hooks(hooks) -%}
    {{ return(adapter.dispatch('write_log_hooks', 'winback')(hooks)) }}
{%- endmacro %}

{% macro default__write_log_hooks(hooks) -%}
    {{ return(hooks) }}
{%- endmacro %}

{% macro spark__write_log_hooks(hooks) -%}
    {{ return([]) }}
{%- endmacro %}
