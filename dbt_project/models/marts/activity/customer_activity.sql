{{ config(contract={'enforced': true}) }}

-- Recomputed for every customer each run, cheaply: the order aggregates come from the incremental
-- int_customer_order_stats (one row per buyer); only the columns that move with the as-of date
-- (days since, BG/NBD age, RFM ranks among all buyers) are computed here.
with customers as (
    select customer_id from {{ ref('int_customers_as_of') }}
),

order_stats as (
    select * from {{ ref('int_customer_order_stats') }}
),

base as (
select
    customers.customer_id,
    {{ as_of_date() }} as as_of_date,
    order_stats.first_order_date,
    order_stats.last_order_date,
    order_stats.previous_order_date,
    cast(coalesce(order_stats.orders_count, 0) as {{ dbt.type_int() }}) as orders_count,
    cast(coalesce(order_stats.order_days_count, 0) as {{ dbt.type_int() }}) as order_days_count,
    cast({{ dbt.datediff('order_stats.last_order_date', as_of_date(), 'day') }} as {{ dbt.type_int() }})
        as days_since_last_order,
    order_stats.days_between_last_two_purchases,
    order_stats.avg_days_between_purchases,
    order_stats.median_days_between_purchases,
    order_stats.main_currency,
    order_stats.revenue_main_currency,
    cast(coalesce(order_stats.currencies_count, 0) as {{ dbt.type_int() }}) as currencies_count,
    order_stats.last_category,
    cast(order_stats.order_days_count - 1 as {{ dbt.type_int() }}) as bgnbd_frequency,
    cast({{ dbt.datediff('order_stats.first_order_date', 'order_stats.last_order_date', 'day') }}
        as {{ dbt.type_int() }}) as bgnbd_recency_days,
    cast({{ dbt.datediff('order_stats.first_order_date', as_of_date(), 'day') }} as {{ dbt.type_int() }})
        as bgnbd_age_days
from customers
left join order_stats on customers.customer_id = order_stats.customer_id
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
