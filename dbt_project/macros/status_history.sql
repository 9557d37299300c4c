{#- customer_status_history updated for the customers whose recorded changes moved, instead of
    rebuilt from every change (issue 10: the rebuild grows with the history, about 0.7 s of CPU
    at a million customers on the second day and 2 s after a year of daily changes).

    A customer's intervals depend only on that customer's rows in customer_status_changes
    (the windows are partitioned by customer). Those rows change only where customer_status_changes
    writes: a build for date D replaces its rows on D and on the next recorded date N
    (delete+insert on as_of_date), and its post-hook deletes erased customers from every date. So
    the customers whose intervals can differ from the last build are those with a row on a date
    written since then (a row added or rewritten), those whose interval started on such a date (a
    row that went away: every recorded interval starts on a row of its own), and the erased. The
    pre-hook deletes their intervals; the model then inserts the intervals of every customer with
    changes and no interval left, from all of that customer's rows. A customer with changes and
    no interval, whatever the cause, is so always rebuilt; a daily run reads the day's changes
    and the erased and writes a few thousand rows instead of every interval.

    What customer_status_changes wrote: its pre-hook (the point where is_incremental() still says
    whether its table existed) appends the dates to meta.status_change_writes with a sequence
    number, in the build's transaction; a first build writes a row with full_build true, since it
    rewrote every date. The history records the highest sequence number it has seen in
    meta.customer_status_history_state, and rebuilds from every change when that record is
    missing (first build, a table from before this state was kept) or when a full build of the
    changes came since. Spark rebuilds the table each run (its Parquet tables have no DELETE) and
    keeps no log. -#}

{% macro status_change_writes_relation() -%}
    {{- return(meta_relation('status_change_writes')) -}}
{%- endmacro %}

{% macro status_history_state_relation() -%}
    {{- return(meta_relation('customer_status_history_state')) -}}
{%- endmacro %}

{% macro status_change_writes_columns() -%}
    as_of_date date, full_build boolean, seq bigint, written_at {{ dbt.type_timestamp() }}
{%- endmacro %}

{% macro status_history_state_columns() -%}
    writes_seen bigint, build {{ dbt.type_string() }}, built_at {{ dbt.type_timestamp() }}
{%- endmacro %}

{#- Pre-hooks of customer_status_changes: the dates its build writes. -#}
{% macro status_change_write_hooks() -%}
    {{ return(write_log_hooks([
        "{{ ensure_meta_table(status_change_writes_relation(), status_change_writes_columns()) }}",
        "{{ status_change_record_write() }}"])) }}
{%- endmacro %}

{#- D, and the next recorded date N when there is one (the dates an incremental build of
    customer_status_changes replaces), or one row with full_build true for a first build. -#}
{% macro status_change_record_write() -%}
    {%- set writes = status_change_writes_relation() -%}
    {%- set runs = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='customer_status_runs') -%}
    insert into {{ writes }} (as_of_date, full_build, seq, written_at)
    select written.as_of_date, written.full_build,
        (select coalesce(max(seq), 0) + 1 from {{ writes }}), {{ dbt.current_timestamp() }}
    from (
    {%- if is_incremental() %}
        select {{ as_of_date() }} as as_of_date, false as full_build
        {%- if runs is not none %}
        union all
        select min(as_of_date), false from {{ runs }}
        where as_of_date > {{ as_of_date() }}
        having min(as_of_date) is not null
        {%- endif %}
    {%- else %}
        select cast(null as date) as as_of_date, true as full_build
    {%- endif %}
    ) as written
{%- endmacro %}

{#- Config of customer_status_history. -#}
{% macro status_history_config() -%}
    {{ return(adapter.dispatch('status_history_config', 'winback')()) }}
{%- endmacro %}

{% macro default__status_history_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        contract={'enforced': true},
        pre_hook=[
            "{{ ensure_meta_table(status_change_writes_relation(), status_change_writes_columns()) }}",
            "{{ ensure_meta_table(status_history_state_relation(), status_history_state_columns()) }}",
            "{{ status_history_delete() }}",
        ],
        post_hook=[
            "delete from {{ status_history_state_relation() }}",
            "{{ status_history_record_state() }}",
            "delete from {{ status_change_writes_relation() }} where seq < (select max(seq) from {{ status_change_writes_relation() }})",
        ],
    ) }}
{%- endmacro %}

{% macro spark__status_history_config() -%}
    {{ config(materialized='table', file_format='parquet', contract={'enforced': true}) }}
{%- endmacro %}

{#- The highest write sequence number the last build saw, when this build may update the
    intervals of the customers written since (see the top), else none (incremental_decision,
    macros/meta_tables.sql). -#}
{% macro status_history_writes_seen() -%}
    {{- return(incremental_decision('winback_status_history_writes_seen',
                                    status_history_updatable_since)) -}}
{%- endmacro %}

{% macro status_history_updatable_since() -%}
    {%- set state = status_history_state_relation() -%}
    {%- set writes = status_change_writes_relation() -%}
    {%- set seen = none -%}
    {%- if relation_exists(state) and relation_exists(writes) -%}
        {%- set rows = run_query(
            "select state.writes_seen from " ~ state ~ " as state"
            ~ " where (select count(*) from " ~ state ~ ") = 1"
            ~ " and not exists (select 1 from " ~ writes ~ " as writes"
            ~ " where writes.seq > state.writes_seen and writes.full_build)") -%}
        {%- if rows | length == 1 -%}
            {%- set seen = rows.columns[0].values()[0] | int -%}
        {%- endif -%}
    {%- endif -%}
    {{- return(seen) -}}
{%- endmacro %}

{#- Before an update: the intervals of the customers with a change written since the last build,
    of those whose interval started on a date written since, and of the erased; before a
    rebuild of an existing table: every row. -#}
{% macro status_history_delete() -%}
    {%- set seen = status_history_writes_seen() -%}
    {%- if seen is not none -%}
        {%- set written = "select as_of_date from " ~ status_change_writes_relation()
                          ~ " where seq > " ~ seen -%}
        delete from {{ this }}
        where customer_id in (
            select customer_id from {{ ref('customer_status_changes') }}
            where as_of_date in ({{ written }})
            union all
            select customer_id from {{ this }}
            where valid_from in ({{ written }})
            union all
            select customer_id from {{ ref('int_customers_erased') }}
        )
    {%- elif is_incremental() -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{% macro status_history_record_state() -%}
    insert into {{ status_history_state_relation() }} (writes_seen, build, built_at)
    select
        coalesce(max(seq), 0),
        '{{ 'incremental' if status_history_writes_seen() is not none else 'rebuild' }}',
        {{ dbt.current_timestamp() }}
    from {{ status_change_writes_relation() }}
{%- endmacro %}
