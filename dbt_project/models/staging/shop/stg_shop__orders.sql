with source as (
    select * from {{ source('shop', 'orders') }}
),

renamed as (
    select
        order_id,
        customer_id,
        {{ to_utc_timestamp('ordered_at') }} as ordered_at,
        cast({{ to_utc_timestamp('ordered_at') }} as date) as order_date,
        status as order_status,
        upper(trim(currency)) as currency,
        amount,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _source_file,
        _source_row
    from source
)

select * from renamed
