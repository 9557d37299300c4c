with source as (
    select * from {{ source('crm', 'exclusions') }}
),

renamed as (
    select
        list_name,
        customer_id,
        email as email_raw,
        reason as exclusion_reason,
        {{ to_utc_timestamp('added_at') }} as added_at,
        {{ to_utc_timestamp('removed_at') }} as removed_at,
        _source_file,
        _source_row
    from source
)

select * from renamed
