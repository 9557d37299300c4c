{%- set signals = inactivity_policies()['churn_signals'] -%}
-- Churn signals from support tickets opened in the signal window before the as-of date (and any
-- complaint still open): flags with reason codes, raised whatever the purchase status.
with tickets as (
    select *
    from {{ ref('stg_crm__support_tickets') }}
    where opened_at < {{ as_of_cutoff() }}
),

per_customer as (
    select
        customer_id,
        sum(case
            when ticket_kind = 'complaint'
                and (closed_at is null or closed_at >= {{ as_of_cutoff() }}) then 1 else 0
        end) as open_complaints,
        sum(case
            when ticket_kind = 'complaint'
                and opened_at >= {{ dbt.dateadd('day', -signals['window_days'], as_of_cutoff()) }}
                then 1 else 0
        end) as recent_complaints,
        sum(case
            when ticket_kind = 'service_request'
                and opened_at >= {{ dbt.dateadd('day', -signals['window_days'], as_of_cutoff()) }}
                then 1 else 0
        end) as recent_service_requests,
        sum(case
            when ticket_kind = 'discount_request'
                and opened_at >= {{ dbt.dateadd('day', -signals['window_days'], as_of_cutoff()) }}
                then 1 else 0
        end) as recent_discount_requests,
        min(case
            when opened_at >= {{ dbt.dateadd('day', -signals['window_days'], as_of_cutoff()) }}
                then satisfaction
        end) as recent_min_satisfaction
    from tickets
    group by customer_id
),

flagged as (
    select
        customer_id,
        open_complaints > 0 or recent_complaints > 0 as has_complaint_signal,
        recent_service_requests >= {{ signals['many_service_requests'] }}
            as has_many_service_requests_signal,
        recent_discount_requests > 0 as has_discount_request_signal,
        coalesce(recent_min_satisfaction <= {{ signals['low_satisfaction_max'] }}, false)
            as has_low_satisfaction_signal
    from per_customer
)

select
    customer_id,
    has_complaint_signal,
    has_many_service_requests_signal,
    has_discount_request_signal,
    has_low_satisfaction_signal,
    -- Reason codes in a fixed order, comma-separated.
    nullif(
        {{ dbt.replace(
            "trim(" ~ dbt.concat([
                "case when has_complaint_signal then 'complaint ' else '' end",
                "case when has_many_service_requests_signal then 'many_service_requests ' else '' end",
                "case when has_discount_request_signal then 'discount_request ' else '' end",
                "case when has_low_satisfaction_signal then 'low_satisfaction' else '' end",
            ]) ~ ")",
            "' '", "','") }},
        ''
    ) as churn_signal_reasons
from flagged
where has_complaint_signal
   or has_many_service_requests_signal
   or has_discount_request_signal
   or has_low_satisfaction_signal
