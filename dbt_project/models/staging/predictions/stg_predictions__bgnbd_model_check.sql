with source as (
    select * from {{ source('predictions', 'bgnbd_model_check') }}
),

renamed as (
    select
        cast(as_of_date as date) as as_of_date,
        cast(holdout_days as {{ dbt.type_int() }}) as holdout_days,
        cast(calibration_end_date as date) as calibration_end_date,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(predicted_purchases as {{ type_double() }}) as predicted_purchases,
        cast(actual_purchases as {{ type_double() }}) as actual_purchases,
        cast(mean_absolute_error as {{ type_double() }}) as mean_absolute_error,
        cast(calibration_slope as {{ type_double() }}) as calibration_slope,
        cast(passed as {{ dbt.type_boolean() }}) as passed,
        cast(reason as {{ dbt.type_string() }}) as reason
    from source
)

select * from renamed
