with source as (
    select * from {{ source('crm', 'customers') }}
),

renamed as (
    select
        customer_id,
        first_name,
        last_name,
        email as email_raw,
        phone as phone_raw,
        upper(trim(country)) as country_code,
        postal_code,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _source_file,
        _source_row
    from source
)

select * from renamed
