-- Loyalty points per customer as of the run date: every ledger entry up to the as-of day whose
-- expiry (if any) lies after it. Redemptions are negative entries without expiry.
select
    customer_id,
    sum(points) as points_balance
from {{ ref('stg_shop__loyalty_ledger') }}
where occurred_at < {{ as_of_cutoff() }}
  and (expires_at is null or expires_at >= {{ as_of_cutoff() }})
group by customer_id
