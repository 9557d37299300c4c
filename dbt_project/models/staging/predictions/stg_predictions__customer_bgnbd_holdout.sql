with source as (
    select * from {{ source('predictions', 'customer_bgnbd_holdout') }}
),

renamed as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(calibration_end_date as date) as calibration_end_date,
        cast(calibration_frequency as {{ dbt.type_int() }}) as calibration_frequency,
        cast(calibration_p_alive as {{ type_double() }}) as calibration_p_alive,
        cast(predicted_purchases as {{ type_double() }}) as predicted_purchases,
        cast(actual_purchases as {{ dbt.type_int() }}) as actual_purchases
    from source
)

select * from renamed
