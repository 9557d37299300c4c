{{ config(contract={'enforced': true}) }}

-- Lift of each audience over all its send dates whose conversion window is complete (pooled
-- from reactivation_outcomes): conversion rate = conversions / customers per group,
-- absolute lift = treated rate - holdout rate, its 95 % Wald interval
-- lift +- 1.959964 * sqrt(pt (1 - pt) / nt + ph (1 - ph) / nh), and relative lift =
-- absolute lift / holdout rate. Without holdout (or treated) customers the lift is null.
with outcomes as (
    select * from {{ ref('reactivation_outcomes') }}
    where is_window_complete
),

pooled as (
    select
        audience,
        min(send_date) as first_send_date,
        max(send_date) as last_send_date,
        count(*) as send_dates,
        sum(treated_customers) as treated_customers,
        sum(treated_conversions) as treated_conversions,
        sum(holdout_customers) as holdout_customers,
        sum(holdout_conversions) as holdout_conversions
    from outcomes
    group by audience
),

rates as (
    select
        *,
        {{ ratio('treated_conversions', 'treated_customers') }} as treated_conversion_rate,
        {{ ratio('holdout_conversions', 'holdout_customers') }} as holdout_conversion_rate
    from pooled
),

lift as (
    select
        *,
        treated_conversion_rate - holdout_conversion_rate as absolute_lift,
        sqrt(
            treated_conversion_rate * (1 - treated_conversion_rate) / nullif(treated_customers, 0)
            + holdout_conversion_rate * (1 - holdout_conversion_rate)
            / nullif(holdout_customers, 0)
        ) as lift_standard_error
    from rates
)

select
    audience,
    first_send_date,
    last_send_date,
    cast(send_dates as {{ dbt.type_int() }}) as send_dates,
    cast(treated_customers as {{ dbt.type_int() }}) as treated_customers,
    cast(treated_conversions as {{ dbt.type_int() }}) as treated_conversions,
    cast(holdout_customers as {{ dbt.type_int() }}) as holdout_customers,
    cast(holdout_conversions as {{ dbt.type_int() }}) as holdout_conversions,
    cast(treated_conversion_rate as {{ type_double() }}) as treated_conversion_rate,
    cast(holdout_conversion_rate as {{ type_double() }}) as holdout_conversion_rate,
    cast(absolute_lift as {{ type_double() }}) as absolute_lift,
    cast(absolute_lift - 1.959964 * lift_standard_error as {{ type_double() }}) as lift_ci_low,
    cast(absolute_lift + 1.959964 * lift_standard_error as {{ type_double() }}) as lift_ci_high,
    cast({{ ratio('absolute_lift', 'holdout_conversion_rate') }} as {{ type_double() }})
        as relative_lift
from lift
