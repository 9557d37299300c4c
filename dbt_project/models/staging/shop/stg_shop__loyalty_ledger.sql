with source as (
    select * from {{ source('shop', 'loyalty_ledger') }}
),

renamed as (
    select
        customer_id,
        {{ to_utc_timestamp('occurred_at') }} as occurred_at,
        points,
        {{ to_utc_timestamp('expires_at') }} as expires_at,
        _source_file,
        _source_row
    from source
)

select * from renamed
