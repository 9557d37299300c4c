{{ config(contract={'enforced': true}) }}

-- The BG/NBD's out-of-time check by calibration-period frequency (0, 1, ..., 7 = seven or more
-- repeat purchase days), as in Fader, Hardie & Lee (2005), figure 4: per group of customers,
-- the forecast and the actual repeat purchase days in the holdout period.
with holdout as (
    select * from {{ ref('stg_predictions__customer_bgnbd_holdout') }}
),

bucketed as (
    select
        *,
        case when calibration_frequency >= 7 then 7 else calibration_frequency end
            as frequency_bucket
    from holdout
)

select
    as_of_date,
    calibration_end_date,
    cast(frequency_bucket as {{ dbt.type_int() }}) as calibration_frequency,
    cast(count(*) as {{ dbt.type_bigint() }}) as customers,
    cast(sum(predicted_purchases) as {{ type_double() }}) as predicted_purchases,
    cast(sum(actual_purchases) as {{ type_double() }}) as actual_purchases,
    cast(avg(predicted_purchases) as {{ type_double() }}) as predicted_per_customer,
    cast(avg(cast(actual_purchases as {{ type_double() }})) as {{ type_double() }})
        as actual_per_customer
from bucketed
group by as_of_date, calibration_end_date, frequency_bucket
