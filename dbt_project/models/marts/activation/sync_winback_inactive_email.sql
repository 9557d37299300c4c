{{ config(contract={'enforced': true}) }}

-- Audience "winback_inactive_email": inactive customers (crossed the threshold, not yet lapsed)
-- who can be emailed according to contact_hygiene (valid, not role or disposable, consent opted
-- in, not suppressed, the address's deterministic owner).
-- Customers with an open complaint are left out: they belong on a service list, not a promotion.
with status as (
    select * from {{ ref('customer_inactivity_status') }}
    where status = 'inactive'
),

contacts as (
    select customer_id, email_normalized from {{ ref('contact_hygiene') }}
    where is_contactable_email
),

customers as (
    select customer_id, first_name, last_name from {{ ref('int_customers_as_of') }}
),

activity as (
    select customer_id, last_category from {{ ref('customer_activity') }}
),

open_complaints as (
    select customer_id from {{ ref('int_customer_support_flags') }}
    where has_open_complaint
),

loyalty as (
    select customer_id, points_balance from {{ ref('int_customer_loyalty_balance') }}
)

select
    status.customer_id,
    status.as_of_date,
    contacts.email_normalized as email,
    customers.first_name,
    customers.last_name,
    status.last_order_date,
    status.inactive_since,
    activity.last_category,
    cast(coalesce(loyalty.points_balance, 0) as {{ dbt.type_int() }}) as loyalty_points
from status
inner join contacts on status.customer_id = contacts.customer_id
inner join customers on status.customer_id = customers.customer_id
left join activity on status.customer_id = activity.customer_id
left join loyalty on status.customer_id = loyalty.customer_id
left join open_complaints on status.customer_id = open_complaints.customer_id
where open_complaints.customer_id is null
