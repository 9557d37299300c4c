with source as (
    select * from {{ source('crm', 'support_tickets') }}
),

renamed as (
    select
        ticket_id,
        customer_id,
        {{ to_utc_timestamp('opened_at') }} as opened_at,
        {{ to_utc_timestamp('closed_at') }} as closed_at,
        kind as ticket_kind,
        satisfaction,
        _source_file,
        _source_row
    from source
)

select * from renamed
