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
),

-- Ingest fails closed on opt-outs: one whose channel could not be read is stored without a
-- channel, and it counts on every channel (the channels of the consent_events contract).
channels as (
    select 'email' as channel
    union all
    select 'sms' as channel
),

every_channel as (
    select
        renamed.customer_id,
        channels.channel,
        renamed.consent_status,
        renamed.consent_source,
        renamed.occurred_at,
        renamed._source_file,
        renamed._source_row
    from renamed
    inner join channels
        on renamed.channel = channels.channel or renamed.channel is null
)

select * from every_channel
