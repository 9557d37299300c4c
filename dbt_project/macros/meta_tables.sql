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
