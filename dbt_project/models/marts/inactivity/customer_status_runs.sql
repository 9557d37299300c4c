{{ daily_incremental_config() }}

-- depends_on: {{ ref('customer_status_changes') }}
-- One row per as-of date whose statuses were recorded into customer_status_changes (built after
-- it, so a date is listed only once its changes are in).
select
    {{ as_of_date() }} as as_of_date,
    cast({{ sql_text(inactivity_policies()['version']) }} as {{ dbt.type_string() }}) as rule_version
