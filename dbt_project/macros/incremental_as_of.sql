{#- Incremental as-of models (issue 10): a run for D on or after the date a model was last built
    for recomputes only the keys touched since, a run for an earlier date (backfill, rerun of a
    past day) rebuilds the model. The result equals a full rebuild because a key's rows depend only
    on that key's raw versions, the erasure list and the as-of cutoff, and between two builds those
    change only for
      - orders with a raw row loaded after the previous build (new versions, late files),
      - orders with a raw version whose ordered_at or version time falls between the previous and
        the new cutoff (it becomes visible, or becomes the known version),
      - orders with a version of a customer whose erasure request arrived since,
      - orders with order lines loaded since (customer_activity's last category);
    and per customer: every customer named by any raw version of such an order (so an order that
    moves to another customer recomputes both).
    The previous as-of date and the raw watermark (max _loaded_at of the raw tables read, so no
    clock is compared with another) are kept per model in meta.incremental_as_of_state, written in
    the model's transaction, with the count of raw rows read: raw tables are append-only, so a
    deleted raw row (by hand, or a reload) shows as fewer rows up to the watermark than the build
    recorded, and the model rebuilds. Raw lineage (_loaded_at) is not in staging, so these
    macros read the sources directly. Time-dependent columns (days since, RFM, as_of_date) stay out of the
    incremental tables: their marts recompute them each run from the per-customer aggregates. -#}

{% macro incremental_as_of_state_relation() -%}
    {{- return(api.Relation.create(database=target.get('database'), schema='meta',
                                   identifier='incremental_as_of_state')) -}}
{%- endmacro %}

{#- The previous build of this model, {as_of: 'YYYY-MM-DD', watermark: text}, when this run may
    update it incrementally: it exists, no --full-refresh, and D is not earlier. Else none (full
    build). Both go into the SQL as literals: a scalar subquery in the filter costs DuckDB a
    nested-loop join over every raw row. -#}
{% macro incremental_as_of_previous() -%}
    {#- A unit test has no `this`: it always tests the full build. -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set state = incremental_as_of_state_relation() -%}
    {%- if adapter.get_relation(database=state.database, schema=state.schema,
                                identifier=state.identifier) is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query("select cast(as_of_date as " ~ dbt.type_string() ~ "), cast(watermark as "
                             ~ dbt.type_string() ~ "), raw_rows from " ~ state
                             ~ " where model_name = '" ~ this.identifier ~ "'") -%}
    {%- if rows | length != 1 -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set previous = {'as_of': rows.columns[0].values()[0] | string,
                        'watermark': rows.columns[1].values()[0] | string} -%}
    {%- if as_of_date_string() < previous.as_of -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set still_there = run_query(incremental_as_of_raw_rows(
        "where _loaded_at <= " ~ incremental_as_of_watermark(previous))) -%}
    {%- if (still_there.columns[0].values()[0] | int) != (rows.columns[2].values()[0] | int) -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(previous) -}}
{%- endmacro %}

{#- Rows of the raw tables these models read (filtered by `where`). -#}
{% macro incremental_as_of_raw_rows(where='') -%}
    select
        (select count(*) from {{ source('shop', 'orders') }} {{ where }})
        + (select count(*) from {{ source('shop', 'order_items') }} {{ where }})
        + (select count(*) from {{ source('crm', 'erasure_requests') }} {{ where }})
{%- endmacro %}

{% macro incremental_as_of_watermark(previous) -%}
    cast('{{ previous.watermark }}' as timestamp with time zone)
{%- endmacro %}

{#- Orders whose row in int_orders_as_of may differ from the previous build (see the top). -#}
{% macro as_of_changed_orders(previous) -%}
    {#- The raw timestamps are timezone-aware: compared with UTC literals, not converted per row. -#}
    {%- set day = modules.datetime.datetime.strptime(previous.as_of, '%Y-%m-%d') -%}
    {%- set next_day = modules.datetime.datetime.strptime(as_of_date_string(), '%Y-%m-%d') -%}
    {%- set previous_cutoff = utc_literal(day + modules.datetime.timedelta(days=1)) -%}
    {%- set cutoff = utc_literal(next_day + modules.datetime.timedelta(days=1)) -%}
    select order_id from {{ source('shop', 'orders') }}
    where _loaded_at > {{ incremental_as_of_watermark(previous) }}
        or (ordered_at >= {{ previous_cutoff }} and ordered_at < {{ cutoff }})
        or (coalesce(updated_at, ordered_at) >= {{ previous_cutoff }}
            and coalesce(updated_at, ordered_at) < {{ cutoff }})
    union
    select orders.order_id
    from {{ source('shop', 'orders') }} as orders
    inner join {{ source('crm', 'erasure_requests') }} as erasures
        on orders.customer_id = erasures.customer_id
    where erasures._loaded_at > {{ incremental_as_of_watermark(previous) }}
    union
    select order_id from {{ source('shop', 'order_items') }}
    where _loaded_at > {{ incremental_as_of_watermark(previous) }}
{%- endmacro %}

{% macro utc_literal(moment) -%}
    cast('{{ moment.strftime("%Y-%m-%d %H:%M:%S") }}+00' as timestamp with time zone)
{%- endmacro %}

{#- Customers whose order aggregates may differ: those of any raw version of a changed order,
    and the newly erased. -#}
{% macro as_of_changed_customers(previous) -%}
    select customer_id from {{ source('shop', 'orders') }}
    where order_id in ({{ as_of_changed_orders(previous) }})
    union
    select customer_id from {{ source('crm', 'erasure_requests') }}
    where _loaded_at > {{ incremental_as_of_watermark(previous) }}
{%- endmacro %}

{% macro as_of_changed_keys(grain, previous) -%}
    {%- if grain == 'order' -%}
        {{ as_of_changed_orders(previous) }}
    {%- elif grain == 'customer' -%}
        {{ as_of_changed_customers(previous) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("as_of_changed_keys: unknown grain " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{#- In the model's where clause: true, or on an incremental run `<key> in (changed keys)`. -#}
{% macro as_of_changed_filter(key, grain) -%}
    {%- set previous = incremental_as_of_previous() -%}
    {%- if previous is none -%}
        1 = 1
    {%- else -%}
        {{ key }} in ({{ as_of_changed_keys(grain, previous) }})
    {%- endif -%}
{%- endmacro %}

{#- Config of an incremental as-of model keyed on `key` (order_id or customer_id) of `grain`
    ('order' or 'customer'). The pre-hooks delete the rows about to be recomputed (all of them on
    a full build of an existing table), the model inserts them (append); the post-hook records
    the date and the watermark. A changed column list stops the run: build with --full-refresh. -#}
{% macro incremental_as_of_config(key, grain, contract=false) -%}
    {{ return(adapter.dispatch('incremental_as_of_config', 'winback')(key, grain, contract)) }}
{%- endmacro %}

{#- Spark's Parquet tables have no DELETE: the model is rebuilt whole each run (a table), which
    is the result the incremental build equals by construction. -#}
{% macro spark__incremental_as_of_config(key, grain, contract) -%}
    {{ config(materialized='table', file_format='parquet', contract={'enforced': contract}) }}
{%- endmacro %}

{% macro default__incremental_as_of_config(key, grain, contract) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        contract={'enforced': contract},
        pre_hook=[
            "{{ incremental_as_of_create_state() }}",
            "{{ incremental_as_of_delete('" ~ key ~ "', '" ~ grain ~ "') }}",
        ],
        post_hook=[
            "{{ incremental_as_of_clear_state() }}",
            "{{ incremental_as_of_record_state() }}",
        ],
    ) }}
{%- endmacro %}

{% macro incremental_as_of_create_state() -%}
    {%- set state = incremental_as_of_state_relation() -%}
    {%- do adapter.create_schema(state) -%}
    create table if not exists {{ state }} (
        model_name {{ dbt.type_string() }},
        as_of_date date,
        watermark timestamp with time zone,
        raw_rows bigint,
        built_at {{ dbt.type_timestamp() }}
    )
{%- endmacro %}

{% macro incremental_as_of_delete(key, grain) -%}
    {%- if is_incremental() -%}
        {%- set previous = incremental_as_of_previous() -%}
        delete from {{ this }}
        {%- if previous is not none %}
        where {{ key }} in ({{ as_of_changed_keys(grain, previous) }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro incremental_as_of_clear_state() -%}
    delete from {{ incremental_as_of_state_relation() }} where model_name = '{{ this.identifier }}'
{%- endmacro %}

{% macro incremental_as_of_record_state() -%}
    {%- set state = incremental_as_of_state_relation() -%}
    insert into {{ state }} (model_name, as_of_date, watermark, raw_rows, built_at)
    select
        '{{ this.identifier }}',
        {{ as_of_date() }},
        coalesce(max(loaded_at), cast('1900-01-01 00:00:00+00' as timestamp with time zone)),
        ({{ incremental_as_of_raw_rows() }}),
        {{ dbt.current_timestamp() }}
    from (
        select max(_loaded_at) as loaded_at from {{ source('shop', 'orders') }}
        union all
        select max(_loaded_at) from {{ source('shop', 'order_items') }}
        union all
        select max(_loaded_at) from {{ source('crm', 'erasure_requests') }}
    ) as loads
{%- endmacro %}
