{{ daily_incremental_config(post_hook=[
    "{{ delete_rows(this, 'status is null or customer_id in (select customer_id from ' ~ ref('int_customers_erased') ~ ')') }}"
], pre_hook=status_change_write_hooks()) }}

-- depends_on: {{ ref('int_customers_erased') }}
{#- The recorded dates so far; read without ref() because customer_status_runs records a date
    only after this model has succeeded (it runs after it). -#}
{%- set runs = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='customer_status_runs') if execute else none %}
-- Status changes only: a row for a customer on a recorded as-of date when their status differs
-- from the one recorded on the previous recorded date (or is their first). This is the daily
-- status matrix run-length encoded, so a daily run adds one row per customer whose status
-- changed, and a run for date D rewrites only the rows on D and on the next recorded date N
-- (whose change against D may appear or vanish). delete+insert on as_of_date replaces both
-- dates; rows no longer valid come back as tombstones (status null) so that their date is
-- replaced, and the post-hook drops them with every erased customer. The result does not depend
-- on the order in which dates are run. full_refresh is off: history is rebuilt by backfilling.
-- The pre-hooks log the dates a build writes, from which customer_status_history updates only
-- the customers they touch (macros/status_history.sql).
with today as (
    select as_of_date, customer_id, status, rule_id, rule_version, threshold_days, inactive_since
    from {{ ref('customer_inactivity_status') }}
)

{% if is_incremental() %}
,

recorded as (
    select * from {{ this }}
),

next_run as (
    {%- if runs is not none %}
    select min(as_of_date) as as_of_date
    from {{ runs }}
    where as_of_date > {{ as_of_date() }}
    {%- else %}
    select cast(null as date) as as_of_date
    {%- endif %}
),

-- Each customer's status on the last recorded date before D.
before as (
    select customer_id, status
    from (
        select
            customer_id,
            status,
            row_number() over (partition by customer_id order by as_of_date desc) as row_rank
        from recorded
        where as_of_date < {{ as_of_date() }}
    ) as ranked
    where row_rank = 1
),

-- Each customer's status on N as recorded before this run.
at_next as (
    select *
    from (
        select
            next_run.as_of_date as next_as_of_date,
            recorded.*,
            row_number() over (
                partition by recorded.customer_id order by recorded.as_of_date desc
            ) as row_rank
        from recorded
        inner join next_run on recorded.as_of_date <= next_run.as_of_date
    ) as ranked
    where row_rank = 1
),

changes_on_d as (
    select today.*
    from today
    left join before on today.customer_id = before.customer_id
    where before.customer_id is null or before.status <> today.status
),

changes_on_n as (
    select
        at_next.next_as_of_date as as_of_date,
        at_next.customer_id,
        at_next.status,
        at_next.rule_id,
        at_next.rule_version,
        at_next.threshold_days,
        at_next.inactive_since
    from at_next
    left join today on at_next.customer_id = today.customer_id
    left join before on at_next.customer_id = before.customer_id
    where coalesce(today.status, before.status) is null
       or coalesce(today.status, before.status) <> at_next.status
),

tombstones as (
    select
        recorded.as_of_date,
        recorded.customer_id,
        cast(null as {{ dbt.type_string() }}) as status,
        recorded.rule_id,
        recorded.rule_version,
        recorded.threshold_days,
        recorded.inactive_since
    from recorded
    where recorded.as_of_date = {{ as_of_date() }}
       or recorded.as_of_date = (select as_of_date from next_run)
)

select * from changes_on_d
union all
select * from changes_on_n
union all
select * from tombstones

{% else %}

select * from today

{% endif %}
