{{ config(contract={'enforced': true}) }}

-- Revenue at risk per RFM segment and currency = the revenue to date (main currency) of the
-- customers whose status is at_risk or inactive: still winnable, not yet lapsed. Beside it the
-- segment's revenue of all buyers and the share at risk = revenue_at_risk / revenue. Amounts in
-- different currencies are never summed.
with status as (
    select customer_id, as_of_date, status, rfm_segment
    from {{ ref('customer_inactivity_status') }}
    where rfm_segment is not null
),

activity as (
    select customer_id, main_currency, revenue_main_currency
    from {{ ref('customer_activity') }}
),

buyers as (
    select
        status.as_of_date,
        status.rfm_segment,
        activity.main_currency,
        activity.revenue_main_currency,
        status.status in ('at_risk', 'inactive') as is_at_risk
    from status
    inner join activity on status.customer_id = activity.customer_id
),

segments as (
    select
        as_of_date,
        rfm_segment,
        main_currency as currency,
        count(*) as customers,
        sum(case when is_at_risk then 1 else 0 end) as customers_at_risk,
        sum(revenue_main_currency) as revenue,
        sum(case when is_at_risk then revenue_main_currency else 0 end) as revenue_at_risk
    from buyers
    group by as_of_date, rfm_segment, main_currency
)

select
    as_of_date,
    rfm_segment,
    currency,
    cast(customers as {{ dbt.type_int() }}) as customers,
    cast(customers_at_risk as {{ dbt.type_int() }}) as customers_at_risk,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(revenue_at_risk as decimal(18, 2)) as revenue_at_risk,
    cast({{ ratio('revenue_at_risk', 'revenue') }} as {{ type_double() }})
        as revenue_at_risk_share
from segments
