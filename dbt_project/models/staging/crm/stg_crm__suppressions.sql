with source as (
    select * from {{ source('crm', 'suppressions') }}
),

renamed as (
    select
        email as email_raw,
        reason as suppression_reason,
        {{ to_utc_timestamp('occurred_at') }} as occurred_at,
        _source_file,
        _source_row
    from source
)

select * from renamed
