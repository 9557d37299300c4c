-- Support state per customer as of the run date. A customer with an open complaint goes to a
-- service list, never into a promotion.
with tickets as (
    select *
    from {{ ref('stg_crm__support_tickets') }}
    where opened_at < {{ as_of_cutoff() }}
)

select
    customer_id,
    max(case
        when ticket_kind = 'complaint'
            and (closed_at is null or closed_at >= {{ as_of_cutoff() }}) then 1 else 0
    end) = 1 as has_open_complaint,
    count(*) as tickets_count
from tickets
group by customer_id
