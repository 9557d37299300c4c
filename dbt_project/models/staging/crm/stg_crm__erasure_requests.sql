with source as (
    select * from {{ source('crm', 'erasure_requests') }}
),

renamed as (
    select
        customer_id,
        {{ to_utc_timestamp('requested_at') }} as requested_at,
        _source_file,
        _source_row
    from source
)

select * from renamed
