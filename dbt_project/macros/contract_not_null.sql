{#- A post-hook of every model (dbt_project.yml): the engines that hold a contract's not_null
    constraint refuse a null when the model is built (DuckDB, PostgreSQL), so nothing runs there,
    and a `not_null` data test on such a column would be a node that cannot fail. Spark's Parquet
    tables cannot hold the constraint: there the hook fails the model when a column its enforced
    contract declares not_null holds a null (the table is named, no value). -#}
{% macro contract_not_null_check() -%}
    {{ return(adapter.dispatch('contract_not_null_check', 'winback')()) }}
{%- endmacro %}

{% macro default__contract_not_null_check() -%}
{%- endmacro %}

{% macro spark__contract_not_null_check() -%}
    {%- set columns = [] -%}
    {%- if model.contract.enforced -%}
        {%- for name, column in model.columns.items() -%}
            {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}
                {%- do columns.append(name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if columns -%}
    select assert_true(count(*) = 0,
        'a column of {{ this }} that its contract declares not_null holds a null')
    from {{ this }}
    where {% for name in columns %}{{ name }} is null{% if not loop.last %} or {% endif %}{% endfor %}
    {%- endif -%}
{%- endmacro %}
