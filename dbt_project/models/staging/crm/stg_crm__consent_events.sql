with source as (
    select * from {{ source('crm', 'consent_events') }}
),

renamed as (
    select
        customer_id,
        channel,
        status as consent_status,
        source as consent_source,
        {{ to_utc_timestamp('occurred_at') }} as occurred_at,
        _source_file,
        _source_row
    from source
)

select * from renamed
