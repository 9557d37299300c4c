{{ config(contract={'enforced': true}) }}

-- Revenue per customer and currency: amounts are never summed across currencies.
select
    customer_id,
    {{ as_of_date() }} as as_of_date,
    currency,
    cast(count(*) as {{ dbt.type_int() }}) as purchases_count,
    cast(sum(revenue_amount) as decimal(18, 2)) as revenue
from {{ ref('int_orders_as_of') }}
where is_purchase
group by customer_id, currency
