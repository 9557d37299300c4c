{#- audience_membership_history updated from the run's date instead of rebuilt from every daily
    row (issue 10: the rebuild grows with the history).

    A spell depends only on its (audience, customer) pair's rows in audience_membership_daily and
    audience_exclusions_daily and on the run dates (the dates either table holds). When the run's
    date D is later than every date of the history's last build (the newest, P), and since that
    build the daily tables were written for D only and still hold every date up to P, a new run
    date after P changes no earlier one: the spells open on P (left_on null) continue on D or end
    on P (left_on D), D's rows continue a spell or start one, and every other spell stays as it
    is. The model then reads the open spells of the last build and the rows of D only (a spell's
    holdout group, cap, variant and definition are maxima over its rows, so the maximum of the
    last build's value and D's row is the maximum over all), and replaces the spells it returns
    by their key (audience, customer_id, entered_on: a customer is a member or left out, not
    both, on one date). Erasures remove a customer's rows from every date (the daily tables'
    post-hooks): the pre-hook deletes their spells; an erasure that empties a date changes the
    run dates, which the count of the dates up to P sees. Otherwise (first build, a rerun or
    backfill of a date up to P, a run that wrote a daily table but not the history, a date
    emptied) the pre-hook deletes every row and the model inserts all, from every daily row.

    What the daily tables were written for: their post-hooks append (model, as_of_date, seq) to
    meta.audience_daily_writes; the history records the highest seq it has seen, its newest run
    date, how many run dates it saw and how it was built in meta.audience_membership_history_state.
    Spark rebuilds the table each run (its Parquet tables have no DELETE) and keeps no log. -#}

{% macro membership_writes_relation() -%}
    {{- return(meta_relation('audience_daily_writes')) -}}
{%- endmacro %}

{% macro membership_history_state_relation() -%}
    {{- return(meta_relation('audience_membership_history_state')) -}}
{%- endmacro %}

{% macro membership_writes_columns() -%}
    model_name {{ dbt.type_string() }}, as_of_date date, seq bigint, written_at {{ dbt.type_timestamp() }}
{%- endmacro %}

{#- Post-hooks of audience_membership_daily and audience_exclusions_daily: the date they wrote. -#}
{% macro membership_daily_write_hooks() -%}
    {{ return(write_log_hooks([
        "{{ ensure_meta_table(membership_writes_relation(), membership_writes_columns()) }}",
        "{{ membership_record_daily_write() }}"])) }}
{%- endmacro %}

{% macro membership_record_daily_write() -%}
    {%- set writes = membership_writes_relation() -%}
    insert into {{ writes }} (model_name, as_of_date, seq, written_at)
    select '{{ this.identifier }}', {{ as_of_date() }}, coalesce(max(seq), 0) + 1,
        {{ dbt.current_timestamp() }}
    from {{ writes }}
{%- endmacro %}

{#- Config of audience_membership_history. -#}
{% macro membership_history_config() -%}
    {{ return(adapter.dispatch('membership_history_config', 'winback')()) }}
{%- endmacro %}

{% macro default__membership_history_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['audience', 'customer_id', 'entered_on'],
        on_schema_change='fail',
        contract={'enforced': true},
        pre_hook=[
            "{{ ensure_meta_table(membership_writes_relation(), membership_writes_columns()) }}",
            "{{ ensure_meta_table(membership_history_state_relation(), membership_history_state_columns()) }}",
            "{{ membership_history_delete() }}",
        ],
        post_hook=[
            "delete from {{ membership_history_state_relation() }}",
            "{{ membership_history_record_state() }}",
        ],
    ) }}
{%- endmacro %}

{% macro spark__membership_history_config() -%}
    {{ config(materialized='table', file_format='parquet', contract={'enforced': true}) }}
{%- endmacro %}

{% macro membership_history_state_columns() -%}
    built_through date, run_dates bigint, writes_seen bigint,
    build {{ dbt.type_string() }}, built_at {{ dbt.type_timestamp() }}
{%- endmacro %}

{% macro membership_run_dates() -%}
    select as_of_date from {{ ref('audience_membership_daily') }}
    union
    select as_of_date from {{ ref('audience_exclusions_daily') }}
{%- endmacro %}

{#- The previous build's newest run date P ('YYYY-MM-DD') when this build may update the spells
    from D (see the top), else none (incremental_decision, macros/meta_tables.sql). -#}
{% macro membership_history_previous() -%}
    {{- return(incremental_decision('winback_membership_history_previous',
                                    membership_history_updatable_from)) -}}
{%- endmacro %}

{% macro membership_history_updatable_from() -%}
    {%- set state = membership_history_state_relation() -%}
    {%- set writes = membership_writes_relation() -%}
    {%- set previous = none -%}
    {%- if relation_exists(state) and relation_exists(writes) -%}
        {%- set rows = run_query(
            "select cast(state.built_through as " ~ dbt.type_string() ~ ") from " ~ state ~ " as state"
            ~ " where state.built_through < " ~ as_of_date()
            ~ " and not exists (select 1 from " ~ writes ~ " as writes"
            ~ " where writes.seq > state.writes_seen and writes.as_of_date <> " ~ as_of_date() ~ ")"
            ~ " and state.run_dates = (select count(*) from (" ~ membership_run_dates()
            ~ ") as run_dates where run_dates.as_of_date <= state.built_through)") -%}
        {%- if rows | length == 1 -%}
            {%- set previous = rows.columns[0].values()[0] | string -%}
        {%- endif -%}
    {%- endif -%}
    {{- return(previous) -}}
{%- endmacro %}

{#- Before an update from D: the spells of customers erased since (they have no rows left to
    update from); before a rebuild of an existing table: every row. -#}
{% macro membership_history_delete() -%}
    {%- set previous = membership_history_previous() -%}
    {%- if previous is not none -%}
        delete from {{ this }}
        where customer_id in (select customer_id from {{ ref('int_customers_erased') }})
    {%- elif is_incremental() -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{% macro membership_history_record_state() -%}
    insert into {{ membership_history_state_relation() }}
        (built_through, run_dates, writes_seen, build, built_at)
    select
        max(run_dates.as_of_date),
        count(*),
        (select coalesce(max(seq), 0) from {{ membership_writes_relation() }}),
        '{{ 'incremental' if membership_history_previous() is not none else 'rebuild' }}',
        {{ dbt.current_timestamp() }}
    from ({{ membership_run_dates() }}) as run_dates
{%- endmacro %}
