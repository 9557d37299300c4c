with source as (
    select * from {{ source('shop', 'order_items') }}
),

renamed as (
    select
        order_id,
        line_no,
        sku,
        lower(trim(category)) as category,
        quantity,
        unit_price,
        _source_file,
        _source_row
    from source
)

select * from renamed
