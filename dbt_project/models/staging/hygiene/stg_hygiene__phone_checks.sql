with source as (
    select * from {{ source('hygiene', 'phone_checks') }}
),

renamed as (
    select
        phone_raw,
        country_code,
        phone_e164,
        phone_extension,
        phone_type,
        is_valid as is_phone_valid,
        invalid_reason as phone_invalid_reason
    from source
)

select * from renamed
