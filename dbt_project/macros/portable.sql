{#- Cross-database helpers. Adapter-specific SQL lives only in these dispatched macros. -#}

{#- PostgreSQL: dbt.type_string() is `text` there, but the contracts declare `varchar`, which
    PostgreSQL creates as `character varying`. A contracted incremental model's first build has the
    contract's type and every later build compares its new rows' types with it
    (on_schema_change='fail'), so with `text` the second date failed. -#}
{% macro postgres__type_string() -%}
    varchar
{%- endmacro %}

{#- Cast a timezone-aware timestamp to a naive UTC timestamp (sessions run in UTC). -#}
{% macro to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'winback')(expression)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expression) -%}
    cast({{ expression }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro postgres__to_utc_timestamp(expression) -%}
    ({{ expression }} at time zone 'UTC')
{%- endmacro %}

{#- 8-byte float (dbt.type_float() is 4-byte REAL on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'winback')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- dbt.cast on Spark (contracts cast null to each declared type): the standard type names of the
    contracts that Spark's parser lacks. -#}
{% macro spark__cast(field, type) -%}
    {%- set spark_types = {'varchar': 'string', 'text': 'string', 'double precision': 'double'} -%}
    cast({{ field }} as {{ spark_types.get(type | trim | lower, type) }})
{%- endmacro %}

{#- A string compared byte by byte, whatever the database's collation: `a < b` on names must
    pick the same order on every engine (PostgreSQL compares in the database's locale, where
    'high_value' and 'highvalue' may sort the other way round). -#}
{% macro bytewise(expression) -%}
    {{ return(adapter.dispatch('bytewise', 'winback')(expression)) }}
{%- endmacro %}

{% macro default__bytewise(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro postgres__bytewise(expression) -%}
    ({{ expression }} collate "C")
{%- endmacro %}
