{#- int_audience_spells_measured updated from the changed customers and spells instead of rebuilt
    from every spell ever recorded (issue 10: the rebuild joined all of the history's spells with
    every purchase, a cost that grew with each day of history).

    A spell's rows depend only on the spell (its key audience, customer, entry date, and its
    holdout group, variant, cap and exclusion), on its customer's purchases as of the run's date
    and on the conversion window. Between this model's build for P and a run for D >= P:
      - a customer's purchases change only for the customers int_as_of_changed_keys names
        (grain 'customer': new, corrected, late or newly visible orders, and new erasures);
      - audience_membership_history changes only the spells open on P or ending on or after it,
        and the spells that start on or after P (a rerun of P replaces P's daily rows), provided
        the daily membership tables were written for D alone since (their write log) — each
        earlier spell is made of daily rows that did not change —, and it deletes erased
        customers' spells, whose customers are among the changed ones.
    So an update deletes the rows of the changed customers, of the spells the history holds open
    or ending on or after P, and of the spells starting on or after P, and inserts the spells of
    the changed customers and the history's spells open or ending on or after P: the spells still
    measured are those of the current members and of the day's leavers, however long the history.
    It rebuilds (deletes every row, inserts every spell) when the incremental as-of models would
    (first build, a date before P, a build missed: macros/incremental_as_of.sql), when the daily
    tables were written for another date since its last build (a backfill or a rerun of an earlier
    date), and when the conversion window differs from the one it was built with (recorded in
    meta.audience_spells_measured_state). Spark rebuilds the table each run. -#}

{% macro spells_measured_state_relation() -%}
    {{- return(meta_relation('audience_spells_measured_state')) -}}
{%- endmacro %}

{% macro spells_measured_config() -%}
    {{ return(adapter.dispatch('spells_measured_config', 'winback')()) }}
{%- endmacro %}

{% macro default__spells_measured_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ incremental_as_of_ensure_state() }}",
            "{{ ensure_meta_table(spells_measured_state_relation(), 'conversion_window_days bigint') }}",
            "{{ spells_measured_delete() }}",
            "{{ incremental_as_of_record_state() }}",
        ],
        post_hook=[
            "{{ incremental_as_of_clear_state() }}",
            "delete from {{ spells_measured_state_relation() }}",
            "insert into {{ spells_measured_state_relation() }} (conversion_window_days) values ({{ conversion_window_days() }})",
        ],
    ) }}
{%- endmacro %}

{% macro spark__spells_measured_config() -%}
    {{ config(materialized='table', file_format='parquet') }}
{%- endmacro %}

{#- P ('YYYY-MM-DD'), the date of this model's last build, when this build updates it from the
    changes since (see the top); none when it rebuilds. Asked when the SQL is compiled and once
    for the hooks (incremental_decision); the answer is also the one as_of_updates_incrementally()
    gives this node's hooks, so its build record says whether it updated the previous one. -#}
{% macro spells_measured_updated_since() -%}
    {%- set since = incremental_decision('winback_spells_measured_since', spells_measured_since) -%}
    {%- if execute and model is mapping -%}
        {%- do model.update({'winback_updates_incrementally': since is not none}) -%}
    {%- endif -%}
    {{- return(since) -}}
{%- endmacro %}

{% macro spells_measured_since() -%}
    {%- set writes = membership_writes_relation() -%}
    {%- set state = spells_measured_state_relation() -%}
    {%- set builds = incremental_as_of_state_relation() -%}
    {%- if not (relation_exists(writes) and relation_exists(state)) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set unchanged -%}
        not exists (
            select 1 from {{ writes }} as writes
            where writes.as_of_date <> {{ as_of_date() }}
              and writes.written_at > (
                  select max(built_at) from {{ builds }}
                  where model_name = '{{ this.identifier }}'))
        and exists (
            select 1 from {{ state }}
            where conversion_window_days = {{ conversion_window_days() }})
    {%- endset -%}
    {%- if not as_of_updates_incrementally(unchanged) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query("select cast(baseline_as_of as " ~ dbt.type_string() ~ ") from "
                             ~ ref('int_as_of_changed_keys') ~ " where key_grain = 'baseline'") -%}
    {{- return(rows.columns[0].values()[0] | string) -}}
{%- endmacro %}

{#- The history's spells an update recomputes besides the changed customers': open on P or
    ending on or after it. -#}
{% macro spells_measured_changed_spells(since) -%}
    left_on is null or left_on >= cast('{{ since }}' as date)
{%- endmacro %}

{% macro spells_measured_delete() -%}
    {%- set since = spells_measured_updated_since() -%}
    {%- if since is not none -%}
        delete from {{ this }}
        where {{ as_of_changed_keys_of('customer_id', 'customer') }}
           or send_date >= cast('{{ since }}' as date)
           or (audience, customer_id, send_date) in (
               select audience, customer_id, entered_on
               from {{ ref('audience_membership_history') }}
               where {{ spells_measured_changed_spells(since) }})
    {%- elif is_incremental() -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}
