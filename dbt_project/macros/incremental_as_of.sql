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
    moves to another customer recomputes both), and the newly erased. int_customers_as_of (grain
    'crm_customer') likewise recomputes the customers with a CRM row loaded since, a version whose
    created_at or version time falls between the two cutoffs, or a new erasure request; and
    int_customer_consent_as_of (grain 'consent_customer') the customers with a consent event
    loaded since or dated between the two cutoffs.
    These keys are computed once per run, by the model int_as_of_changed_keys (one row per changed
    order and per changed customer, and one 'baseline' row): since its own previous build, whose
    as-of date, raw watermark (max _loaded_at of the raw tables read, so no clock is compared with
    another) and count of raw rows its baseline row keeps. Raw tables are append-only, so a
    deleted raw row (by hand, or a reload) shows as fewer rows up to the watermark than recorded:
    the baseline is then empty and every model rebuilds, as it does for an earlier date.
    Each incremental model records in meta.incremental_as_of_builds (in its transaction) the date
    it was built for and the watermark and raw row count of the changed keys it applied; a run
    updates it incrementally only when that record is the changed keys' baseline and the changed
    keys were built for this date over the raw rows there are now. Otherwise (a model not built
    with the others, a failed run, a selection without int_as_of_changed_keys) it rebuilds. The
    record also names the build (dbt's invocation id) and, for an incremental update, the build it
    updated, so the data tests of these models can read only the keys a build wrote when the build
    it updated passed them (macros/written_keys_checks.sql). The
    test is one query when the model's SQL and its delete are rendered (as_of_updates_incrementally),
    so each renders a plain filter on the changed keys: the test inside the SQL, OR-ed with the key
    filter, made DuckDB run the staging view and a mark join over every raw row (10M orders: 1.5 s
    for 30,000 changed orders, against 0.03 s for the filter alone).
    The per-customer models read the changed customers' purchases from
    int_purchases_of_changed_customers, written once per run (as_of_customer_purchases).
    Time-dependent columns (days since, RFM, as_of_date) stay out of the incremental tables:
    their marts recompute them each run from the per-customer aggregates. -#}

{% macro incremental_as_of_state_relation() -%}
    {{- return(meta_relation('incremental_as_of_builds')) -}}
{%- endmacro %}

{#- The previous build of int_as_of_changed_keys, {as_of: 'YYYY-MM-DD', watermark: text}, when
    this run may compute changes since it: it exists and D is not earlier. Else none (every
    incremental model rebuilds). The values go into the SQL as literals: a scalar subquery in the
    filter costs DuckDB a nested-loop join over every raw row. -#}
{% macro as_of_changes_previous() -%}
    {%- if not execute or this is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if adapter.get_relation(database=this.database, schema=this.schema,
                                identifier=this.identifier) is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query("select cast(as_of_date as " ~ dbt.type_string() ~ "), cast(watermark as "
                             ~ dbt.type_string() ~ ") from " ~ this
                             ~ " where key_grain = 'baseline'") -%}
    {%- if rows | length != 1 or rows.columns[0].values()[0] is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set previous = {'as_of': rows.columns[0].values()[0] | string,
                        'watermark': rows.columns[1].values()[0] | string} -%}
    {%- if as_of_date_string() < previous.as_of -%}
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
        + (select count(*) from {{ source('crm', 'customers') }} {{ where }})
        + (select count(*) from {{ source('crm', 'consent_events') }} {{ where }})
{%- endmacro %}

{#- The latest _loaded_at of the raw tables these models read. -#}
{% macro incremental_as_of_current_watermark() -%}
    select coalesce(max(loaded_at), cast('1900-01-01 00:00:00+00' as timestamp with time zone))
    from (
        select max(_loaded_at) as loaded_at from {{ source('shop', 'orders') }}
        union all
        select max(_loaded_at) from {{ source('shop', 'order_items') }}
        union all
        select max(_loaded_at) from {{ source('crm', 'erasure_requests') }}
        union all
        select max(_loaded_at) from {{ source('crm', 'customers') }}
        union all
        select max(_loaded_at) from {{ source('crm', 'consent_events') }}
    ) as loads
{%- endmacro %}

{% macro incremental_as_of_watermark(previous) -%}
    cast('{{ previous.watermark }}' as timestamp with time zone)
{%- endmacro %}

{#- The raw timestamps are timezone-aware: compared with UTC literals, not converted per row.
    [previous cutoff, cutoff). -#}
{% macro as_of_cutoffs(previous) -%}
    {%- set day = modules.datetime.datetime.strptime(previous.as_of, '%Y-%m-%d') -%}
    {%- set next_day = modules.datetime.datetime.strptime(as_of_date_string(), '%Y-%m-%d') -%}
    {{- return([utc_literal(day + modules.datetime.timedelta(days=1)),
                utc_literal(next_day + modules.datetime.timedelta(days=1))]) -}}
{%- endmacro %}

{#- A raw version loaded since the previous build, or whose creation time (`created`) or version
    time (updated_at, else `created`) falls between the previous and the new cutoff. -#}
{% macro as_of_loaded_or_crossing(created, previous) -%}
    {%- set previous_cutoff, cutoff = as_of_cutoffs(previous) -%}
    _loaded_at > {{ incremental_as_of_watermark(previous) }}
        or ({{ created }} >= {{ previous_cutoff }} and {{ created }} < {{ cutoff }})
        or (coalesce(updated_at, {{ created }}) >= {{ previous_cutoff }}
            and coalesce(updated_at, {{ created }}) < {{ cutoff }})
{%- endmacro %}

{#- Orders whose row in int_orders_as_of may differ from the previous build (see the top). -#}
{% macro as_of_changed_orders(previous) -%}
    select order_id from {{ source('shop', 'orders') }}
    where {{ as_of_loaded_or_crossing('ordered_at', previous) }}
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

{#- Customers whose order aggregates may differ: those of any raw version of a changed order
    (read from the changed orders already computed), and the newly erased. -#}
{% macro as_of_changed_customers(changed_orders, previous) -%}
    select orders.customer_id
    from {{ source('shop', 'orders') }} as orders
    inner join {{ changed_orders }} as changed on orders.order_id = changed.order_id
    union
    select customer_id from {{ source('crm', 'erasure_requests') }}
    where _loaded_at > {{ incremental_as_of_watermark(previous) }}
{%- endmacro %}

{#- Customers whose row in int_customers_as_of may differ from the previous build. -#}
{% macro as_of_changed_crm_customers(previous) -%}
    select customer_id from {{ source('crm', 'customers') }}
    where {{ as_of_loaded_or_crossing('created_at', previous) }}
    union
    select customer_id from {{ source('crm', 'erasure_requests') }}
    where _loaded_at > {{ incremental_as_of_watermark(previous) }}
{%- endmacro %}

{#- Customers whose rows in int_customer_consent_as_of may differ from the previous build: an
    event loaded since, or one whose time falls between the previous and the new cutoff. -#}
{% macro as_of_changed_consent_customers(previous) -%}
    {%- set previous_cutoff, cutoff = as_of_cutoffs(previous) -%}
    select customer_id from {{ source('crm', 'consent_events') }}
    where _loaded_at > {{ incremental_as_of_watermark(previous) }}
        or (occurred_at >= {{ previous_cutoff }} and occurred_at < {{ cutoff }})
{%- endmacro %}

{#- The SQL of int_as_of_changed_keys: key_grain 'order' / 'customer' / 'crm_customer' /
    'consent_customer' with
    key_id, and one row key_grain 'baseline' with this build's as_of_date, watermark and
    raw_rows and, when the changes are relative to the previous build, that build's
    (baseline_*; else null). -#}
{% macro as_of_changed_keys_sql() -%}
    {{ return(adapter.dispatch('as_of_changed_keys_sql', 'winback')()) }}
{%- endmacro %}

{#- Config of int_as_of_changed_keys: a table, whose pre-hook creates the state table the
    incremental as-of models (all built after it) record their builds in. -#}
{% macro as_of_changed_keys_config() -%}
    {{ return(adapter.dispatch('as_of_changed_keys_config', 'winback')()) }}
{%- endmacro %}

{% macro default__as_of_changed_keys_config() -%}
    {{ config(materialized='table', pre_hook=["{{ incremental_as_of_ensure_state() }}"]) }}
{%- endmacro %}

{% macro spark__as_of_changed_keys_config() -%}
    {{ config(materialized='table', file_format='parquet') }}
{%- endmacro %}

{#- Spark rebuilds its as-of tables whole each run (spark__incremental_as_of_config): only the
    baseline row, empty. -#}
{% macro spark__as_of_changed_keys_sql() -%}
    select
        cast('baseline' as string) as key_grain,
        cast(null as string) as key_id,
        {{ as_of_date() }} as as_of_date,
        cast(null as timestamp) as watermark,
        cast(null as bigint) as raw_rows,
        cast(null as date) as baseline_as_of,
        cast(null as timestamp) as baseline_watermark,
        cast(null as bigint) as baseline_raw_rows
{%- endmacro %}

{% macro default__as_of_changed_keys_sql() -%}
    {%- set previous = as_of_changes_previous() -%}
    with current_state as (
        select
            {{ as_of_date() }} as as_of_date,
            ({{ incremental_as_of_current_watermark() }}) as watermark,
            cast(({{ incremental_as_of_raw_rows() }}) as bigint) as raw_rows
    ),
    {%- if previous is none %}
    baseline as (
        select
            cast(null as date) as baseline_as_of,
            cast(null as timestamp with time zone) as baseline_watermark,
            cast(null as bigint) as baseline_raw_rows
    )
    {%- else %}
    {#- The previous build's values, exact, from the table this build replaces; kept only when
        no raw row up to its watermark has gone. -#}
    previous_state as (
        select as_of_date, watermark, raw_rows from {{ this }} where key_grain = 'baseline'
    ),
    raw_rows_then as (
        select cast(({{ incremental_as_of_raw_rows(
            "where _loaded_at <= " ~ incremental_as_of_watermark(previous)) }}) as bigint) as raw_rows
    ),
    baseline as (
        select
            previous_state.as_of_date as baseline_as_of,
            previous_state.watermark as baseline_watermark,
            previous_state.raw_rows as baseline_raw_rows
        from previous_state
        inner join raw_rows_then on previous_state.raw_rows = raw_rows_then.raw_rows
        union all
        select
            cast(null as date),
            cast(null as timestamp with time zone),
            cast(null as bigint)
        where not exists (
            select 1 from previous_state
            inner join raw_rows_then on previous_state.raw_rows = raw_rows_then.raw_rows
        )
    ),
    changed_orders as (
        {{ as_of_changed_orders(previous) }}
    ),
    changed_customers as (
        {{ as_of_changed_customers('changed_orders', previous) }}
    ),
    changed_crm_customers as (
        {{ as_of_changed_crm_customers(previous) }}
    ),
    changed_consent_customers as (
        {{ as_of_changed_consent_customers(previous) }}
    )
    {%- endif %}
    select
        cast('baseline' as {{ dbt.type_string() }}) as key_grain,
        cast(null as {{ dbt.type_string() }}) as key_id,
        current_state.as_of_date,
        current_state.watermark,
        current_state.raw_rows,
        baseline.baseline_as_of,
        baseline.baseline_watermark,
        baseline.baseline_raw_rows
    from current_state
    cross join baseline
    {%- if previous is not none %}
    union all
    select 'order', order_id, null, null, null, null, null, null from changed_orders
    union all
    select 'customer', customer_id, null, null, null, null, null, null from changed_customers
    union all
    select 'crm_customer', customer_id, null, null, null, null, null, null from changed_crm_customers
    union all
    select 'consent_customer', customer_id, null, null, null, null, null, null
    from changed_consent_customers
    {%- endif %}
{%- endmacro %}

{#- The changed keys' baseline row joined with the state row of `model_name` when that model's
    recorded build is the changed keys' `build`: 'baseline' (the build they are relative to) or
    'current' (this build). -#}
{% macro as_of_state_is(model_name, build) -%}
    {%- set columns = {'baseline': ['baseline_as_of', 'baseline_watermark', 'baseline_raw_rows'],
                       'current': ['as_of_date', 'watermark', 'raw_rows']}[build] -%}
    select 1
    from {{ ref('int_as_of_changed_keys') }} as changes
    inner join {{ incremental_as_of_state_relation() }} as state
        on state.model_name = '{{ model_name }}'
        and state.as_of_date = changes.{{ columns[0] }}
        and state.watermark = changes.{{ columns[1] }}
        and state.raw_rows = changes.{{ columns[2] }}
    where changes.key_grain = 'baseline'
{%- endmacro %}

{#- True when this run updates the model incrementally: its recorded build is the changed keys'
    baseline, and the changed keys were built for this date over the raw rows there are now
    (so a model selected without int_as_of_changed_keys, after new raw rows or for another
    date, rebuilds). -#}
{% macro as_of_incremental_condition() -%}
    exists (
        {{ as_of_state_is(this.identifier, 'baseline') }}
            and changes.as_of_date = {{ as_of_date() }}
            and changes.raw_rows = ({{ incremental_as_of_raw_rows() }})
    )
{%- endmacro %}

{#- Whether this build of an existing incremental table recomputes only the changed keys (else it
    rebuilds the table): the condition above, asked once when the model's SQL is rendered and
    once for its pre-hooks (the delete and the build record share the answer, kept in the
    hooks' `model` dict like the as-of date: macros/as_of.sql). All of them render before the
    node writes anything, and only its own hooks change its build record, so they agree. -#}
{% macro as_of_updates_incrementally(and_also=none) -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set memo = model if model is mapping and and_also is none else {} -%}
    {%- if 'winback_updates_incrementally' in memo -%}
        {{- return(memo['winback_updates_incrementally']) -}}
    {%- endif -%}
    {#- No state table or changed keys yet (nothing recorded a build): a rebuild, without a query
        on a table that is not there (`dbt compile` or `docs generate` of such a warehouse). -#}
    {%- set state = incremental_as_of_state_relation() -%}
    {%- set changes = ref('int_as_of_changed_keys') -%}
    {%- if not (relation_exists(state) and relation_exists(changes)) -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set condition = as_of_incremental_condition() -%}
    {%- if and_also is not none -%}
        {%- set condition = condition ~ " and " ~ and_also -%}
    {%- endif -%}
    {%- set rows = run_query("select case when " ~ condition ~ " then 1 else 0 end") -%}
    {%- set answer = rows.columns[0].values()[0] == 1 -%}
    {%- do memo.update({'winback_updates_incrementally': answer}) -%}
    {{- return(answer) -}}
{%- endmacro %}

{#- Where a per-customer model reads the purchases of the customers it recomputes (it still
    filters on them): int_purchases_of_changed_customers when it updates incrementally and that
    table was built from this run's changed keys (its state row is the changed keys' current
    one), else int_orders_as_of. A table recorded for the same date, watermark and raw rows holds
    every purchase of each changed customer: it was built from these changed keys, or they were
    rebuilt since with nothing new, and then name no customer. A model naming it lists both in
    depends_on comments. -#}
{% macro as_of_customer_purchases() -%}
    {%- set purchases = ref('int_purchases_of_changed_customers') -%}
    {%- set built_from_these_changes -%}
        exists ({{ as_of_state_is(purchases.identifier, 'current') }})
    {%- endset -%}
    {%- if as_of_updates_incrementally(built_from_these_changes) -%}
        {{- return(purchases) -}}
    {%- endif -%}
    {{- return(ref('int_orders_as_of')) -}}
{%- endmacro %}

{#- The rows of `key` (grain 'order', 'customer', 'crm_customer' or 'consent_customer') an
    incremental update recomputes. -#}
{% macro as_of_changed_keys_of(key, grain) -%}
    {%- if grain not in ('order', 'customer', 'crm_customer', 'consent_customer') -%}
        {{ exceptions.raise_compiler_error("as_of_changed_keys_of: unknown grain " ~ grain) }}
    {%- endif -%}
    {{ key }} in (
        select key_id from {{ ref('int_as_of_changed_keys') }} where key_grain = '{{ grain }}'
    )
{%- endmacro %}

{#- In the model's where clause: the keys an incremental update recomputes, else (a first build,
    a rebuild, a unit test) every row. The model names int_as_of_changed_keys in a depends_on
    comment (used here only when executing). A model filtering several inputs renders it once
    (`set`), so the test runs once. -#}
{% macro as_of_changed_filter(key, grain) -%}
    {%- if as_of_updates_incrementally() -%}
        {{ as_of_changed_keys_of(key, grain) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Config of an incremental as-of model keyed on `key` (order_id or customer_id) of `grain`
    ('order', 'customer' or 'crm_customer'), which its data tests read from `meta`. The pre-hooks
    delete the rows about to be recomputed (all of them on a full build of an existing table) and
    record the build (its date, the changed keys' watermark, whether it updates the previous
    build), the model inserts the rows (append), the post-hook removes the previous build's
    record; all in the model's transaction (the state table is created by
    int_as_of_changed_keys, built first: models building in parallel on PostgreSQL raced to
    create it). The build is recorded before the model runs because only then does
    is_incremental() still say whether the table existed. A changed column list stops the run:
    build with --full-refresh. -#}
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
        meta={'as_of_key': key, 'as_of_grain': grain},
        pre_hook=[
            "{{ incremental_as_of_ensure_state() }}",
            "{{ incremental_as_of_delete('" ~ key ~ "', '" ~ grain ~ "') }}",
            "{{ incremental_as_of_record_state() }}",
        ],
        post_hook=["{{ incremental_as_of_clear_state() }}"],
    ) }}
{%- endmacro %}

{#- Config of int_purchases_of_changed_customers: a table recording its build like the
    incremental models (on Spark, where those rebuild whole, a plain table: it is empty there). -#}
{% macro changed_purchases_config() -%}
    {{ return(adapter.dispatch('changed_purchases_config', 'winback')()) }}
{%- endmacro %}

{% macro default__changed_purchases_config() -%}
    {{ config(
        materialized='table',
        pre_hook=["{{ incremental_as_of_ensure_state() }}"],
        post_hook=[
            "{{ incremental_as_of_record_state() }}",
            "{{ incremental_as_of_clear_state() }}",
        ],
    ) }}
{%- endmacro %}

{% macro spark__changed_purchases_config() -%}
    {{ config(materialized='table', file_format='parquet') }}
{%- endmacro %}

{#- The pre-hook of every model that records its build: the state table (macros/meta_tables.sql).
    Until 2026-12-05 builds were recorded without their ids in meta.incremental_as_of_state;
    that table is dropped when this one is created, so every incremental model rebuilds once. -#}
{% macro incremental_as_of_ensure_state() -%}
    {%- set state = incremental_as_of_state_relation() -%}
    {%- set legacy = meta_relation('incremental_as_of_state') -%}
    {%- if execute and not relation_exists(state) and relation_exists(legacy) -%}
        {%- do adapter.drop_relation(legacy.incorporate(type='table')) -%}
    {%- endif -%}
    {{- ensure_meta_table(state,
                          'model_name ' ~ dbt.type_string() ~ ', as_of_date date, '
                          ~ 'watermark timestamp with time zone, raw_rows bigint, '
                          ~ 'built_at ' ~ dbt.type_timestamp() ~ ', '
                          ~ 'build_id ' ~ dbt.type_string() ~ ', based_on ' ~ dbt.type_string()) -}}
{%- endmacro %}

{% macro incremental_as_of_delete(key, grain) -%}
    {%- if as_of_updates_incrementally() -%}
        delete from {{ this }} where {{ as_of_changed_keys_of(key, grain) }}
    {%- elif is_incremental() -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- Every record of the model but this build's. -#}
{% macro incremental_as_of_clear_state() -%}
    delete from {{ incremental_as_of_state_relation() }}
    where model_name = '{{ this.identifier }}' and build_id <> '{{ invocation_id }}'
{%- endmacro %}

{#- This build (dbt's invocation id): its date, the watermark and raw row count of the changed
    keys it applies, and the build it updates when it updates one incrementally (else null: a
    first build or a rebuild). -#}
{% macro incremental_as_of_record_state() -%}
    {%- set state = incremental_as_of_state_relation() -%}
    insert into {{ state }}
        (model_name, as_of_date, watermark, raw_rows, built_at, build_id, based_on)
    select
        '{{ this.identifier }}',
        {{ as_of_date() }},
        watermark,
        raw_rows,
        {{ dbt.current_timestamp() }},
        '{{ invocation_id }}',
        {% if as_of_updates_incrementally() -%}
        (select max(build_id) from {{ state }}
         where model_name = '{{ this.identifier }}' and build_id <> '{{ invocation_id }}')
        {%- else -%}
        cast(null as {{ dbt.type_string() }})
        {%- endif %}
    from {{ ref('int_as_of_changed_keys') }}
    where key_grain = 'baseline'
{%- endmacro %}
