with source as (
    select * from {{ source('hygiene', 'email_checks') }}
),

renamed as (
    select
        email_raw,
        email_normalized,
        is_valid as is_email_valid,
        invalid_reason as email_invalid_reason,
        is_role_address,
        is_disposable_domain
    from source
)

select * from renamed
