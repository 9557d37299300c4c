-- Every customer with an erasure request, whatever the as-of date: an erased customer is gone
-- from all marts and exports, backfills of earlier dates included.
select distinct customer_id
from {{ ref('stg_crm__erasure_requests') }}
