{{ config(contract={'enforced': true}) }}

with customers as (
    select customer_id from {{ ref('int_customers_as_of') }}
),

purchases as (
    select * from {{ ref('int_orders_as_of') }}
    where is_purchase
),

purchase_days as (
    select * from {{ ref('int_customer_purchase_days') }}
),

order_stats as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as orders_count,
        count(distinct order_date) as order_days_count
    from purchases
    group by customer_id
),

gaps as (
    select
        customer_id,
        avg(days_since_previous) as avg_days_between_purchases,
        {{ median('days_since_previous') }} as median_days_between_purchases
    from purchase_days
    where days_since_previous is not null
    group by customer_id
),

last_gap as (
    select customer_id, previous_order_date, days_since_previous
    from purchase_days
    where is_last_purchase_day
),

currency_revenue as (
    select
        customer_id,
        currency,
        count(*) as currency_orders,
        sum(revenue_amount) as revenue
    from purchases
    group by customer_id, currency
),

main_currency as (
    select
        customer_id,
        currency,
        revenue,
        count(*) over (partition by customer_id) as currencies_count,
        row_number() over (
            partition by customer_id order by currency_orders desc, revenue desc, currency
        ) as currency_rank
    from currency_revenue
),

last_order as (
    select
        customer_id,
        order_id,
        row_number() over (
            partition by customer_id order by ordered_at desc, order_id desc
        ) as order_rank
    from purchases
),

last_category as (
    select
        last_order.customer_id,
        items.category,
        row_number() over (
            partition by last_order.customer_id
            order by coalesce(items.quantity, 1) * coalesce(items.unit_price, 0) desc, items.line_no
        ) as line_rank
    from last_order
    inner join {{ ref('stg_shop__order_items') }} as items
        on last_order.order_id = items.order_id
    where last_order.order_rank = 1 and items.category is not null
),

base as (
select
    customers.customer_id,
    {{ as_of_date() }} as as_of_date,
    order_stats.first_order_date,
    order_stats.last_order_date,
    last_gap.previous_order_date,
    cast(coalesce(order_stats.orders_count, 0) as {{ dbt.type_int() }}) as orders_count,
    cast(coalesce(order_stats.order_days_count, 0) as {{ dbt.type_int() }}) as order_days_count,
    cast({{ dbt.datediff('order_stats.last_order_date', as_of_date(), 'day') }} as {{ dbt.type_int() }})
        as days_since_last_order,
    cast(last_gap.days_since_previous as {{ dbt.type_int() }}) as days_between_last_two_purchases,
    cast(gaps.avg_days_between_purchases as {{ type_double() }}) as avg_days_between_purchases,
    cast(gaps.median_days_between_purchases as {{ type_double() }}) as median_days_between_purchases,
    main_currency.currency as main_currency,
    cast(main_currency.revenue as decimal(18, 2)) as revenue_main_currency,
    cast(coalesce(main_currency.currencies_count, 0) as {{ dbt.type_int() }}) as currencies_count,
    last_category.category as last_category,
    cast(order_stats.order_days_count - 1 as {{ dbt.type_int() }}) as bgnbd_frequency,
    cast({{ dbt.datediff('order_stats.first_order_date', 'order_stats.last_order_date', 'day') }}
        as {{ dbt.type_int() }}) as bgnbd_recency_days,
    cast({{ dbt.datediff('order_stats.first_order_date', as_of_date(), 'day') }} as {{ dbt.type_int() }})
        as bgnbd_age_days
from customers
left join order_stats on customers.customer_id = order_stats.customer_id
left join gaps on customers.customer_id = gaps.customer_id
left join last_gap on customers.customer_id = last_gap.customer_id
left join main_currency
    on customers.customer_id = main_currency.customer_id and main_currency.currency_rank = 1
left join last_category
    on customers.customer_id = last_category.customer_id and last_category.line_rank = 1
),

-- RFM scores 1-5 by quantile bins among buyers: 1 + floor(5 x percent_rank), so ties share a
-- score and reruns agree. Recency: fewer days since the last order scores higher. Frequency:
-- distinct purchase days. Monetary: revenue ranked within the main currency (amounts in
-- different currencies are never compared).
rfm_ranks as (
    select
        customer_id,
        percent_rank() over (order by days_since_last_order desc) as recency_rank,
        percent_rank() over (order by order_days_count) as frequency_rank,
        percent_rank() over (partition by main_currency order by revenue_main_currency)
            as monetary_rank
    from base
    where last_order_date is not null
),

rfm_scores as (
    select
        customer_id,
        cast(least(5, 1 + floor(5 * recency_rank)) as {{ dbt.type_int() }}) as rfm_recency_score,
        cast(least(5, 1 + floor(5 * frequency_rank)) as {{ dbt.type_int() }}) as rfm_frequency_score,
        cast(least(5, 1 + floor(5 * monetary_rank)) as {{ dbt.type_int() }}) as rfm_monetary_score
    from rfm_ranks
),

-- The standard RFM segments on the recency score and the combined frequency-monetary score
-- (the mean of F and M, halves rounded up): every (R, FM) cell maps to exactly one segment.
rfm_segments as (
    select
        *,
        cast(floor((rfm_frequency_score + rfm_monetary_score + 1) / 2.0) as {{ dbt.type_int() }})
            as rfm_fm_score
    from rfm_scores
)

select
    base.*,
    rfm_segments.rfm_recency_score,
    rfm_segments.rfm_frequency_score,
    rfm_segments.rfm_monetary_score,
    cast(case
        when rfm_segments.customer_id is null then null
        when rfm_recency_score = 5 and rfm_fm_score = 1 then 'New'
        when rfm_recency_score = 4 and rfm_fm_score = 1 then 'Promising'
        when rfm_recency_score >= 4 and rfm_fm_score in (2, 3) then 'Potential Loyalists'
        when rfm_recency_score = 5 and rfm_fm_score >= 4 then 'Champions'
        when rfm_recency_score = 4 and rfm_fm_score = 5 then 'Champions'
        when rfm_recency_score in (3, 4) and rfm_fm_score >= 4 then 'Loyal'
        when rfm_recency_score = 3 and rfm_fm_score = 3 then 'Need Attention'
        when rfm_recency_score = 3 then 'About to Sleep'
        when rfm_fm_score = 5 then 'Cannot Lose Them'
        when rfm_fm_score >= 3 then 'At Risk'
        when rfm_recency_score = 2 then 'Hibernating'
        else 'Lost'
    end as {{ dbt.type_string() }}) as rfm_segment
from base
left join rfm_segments on base.customer_id = rfm_segments.customer_id
