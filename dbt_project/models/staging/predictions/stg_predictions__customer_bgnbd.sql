with source as (
    select * from {{ source('predictions', 'customer_bgnbd') }}
),

renamed as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(p_alive as {{ type_double() }}) as p_alive,
        cast(expected_purchases_30d as {{ type_double() }}) as expected_purchases_30d,
        cast(expected_purchases_90d as {{ type_double() }}) as expected_purchases_90d,
        cast(clv_currency as {{ dbt.type_string() }}) as clv_currency,
        cast(expected_spend_per_purchase as {{ type_double() }}) as expected_spend_per_purchase,
        cast(clv as {{ type_double() }}) as clv
    from source
)

select * from renamed
