{{ spells_measured_config() }}
{%- set since = spells_measured_updated_since() %}

-- The win-back spells that outcomes are measured on (treatment and holdout alike; spells held
-- back by the frequency cap are in neither group), each with its purchases within the conversion
-- window after the send date (the day the spell started), per currency. Purchases count up to
-- the run's as-of date. A spell without a purchase in the window has one row with no currency.
-- Incremental (macros/spells_measured.sql): a daily run recomputes the spells of the customers
-- whose purchases changed and the spells open or ending since the last build, not every spell.
-- depends_on: {{ ref('int_as_of_changed_keys') }}
with spells as (
    select audience, customer_id, holdout_group, variant, entered_on as send_date
    from {{ ref('audience_membership_history') }}
    where not is_capped and exclusion_reason is null
    {%- if since is not none %}
        and ({{ as_of_changed_keys_of('customer_id', 'customer') }}
             or {{ spells_measured_changed_spells(since) }})
    {%- endif %}
),

purchases as (
    select customer_id, order_date, currency, revenue_amount
    from {{ ref('int_orders_as_of') }}
    where is_purchase
)

select
    spells.audience,
    spells.send_date,
    spells.customer_id,
    spells.holdout_group,
    spells.variant,
    purchases.currency,
    count(purchases.order_date) as purchases_count,
    sum(purchases.revenue_amount) as revenue
from spells
left join purchases
    on spells.customer_id = purchases.customer_id
    and purchases.order_date > spells.send_date
    and purchases.order_date <= {{ dbt.dateadd('day', conversion_window_days(), 'spells.send_date') }}
group by
    spells.audience, spells.send_date, spells.customer_id, spells.holdout_group, spells.variant,
    purchases.currency
