{{ config(contract={'enforced': true}) }}

-- Revenue per customer and currency: amounts are never summed across currencies. The aggregate
-- is incremental (int_customer_currency_revenue); only the as-of date is stamped here.
select
    customer_id,
    {{ as_of_date() }} as as_of_date,
    currency,
    cast(purchases_count as {{ dbt.type_int() }}) as purchases_count,
    cast(revenue as decimal(18, 2)) as revenue
from {{ ref('int_customer_currency_revenue') }}
