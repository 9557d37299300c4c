-- The floor: what the pipeline's core answer costs when computed directly from the landing files
-- in one DuckDB script. Same rules as the marts (int_orders_as_of, customer_activity,
-- customer_revenue_by_currency, the fixed-threshold status of customer_inactivity_status):
--   * orders placed before the end of the as-of day, latest version known by then (updated_at,
--     else ordered_at; ties: later file, later row), erased customers removed;
--   * a purchase is an order not cancelled; refunded orders add no revenue;
--   * per customer: first/last purchase date, purchases, purchase days, revenue per currency;
--   * status with the fixed 180-day threshold and the policy bands: lapsed from 360 days,
--     inactive from 180, reactivated (gap before the last purchase >= 180 and last purchase
--     under 90 days ago), at risk from 150, else active; prospects never bought.
-- Placeholders, filled in by floor.py: @orders@, @customers@, @erasure_requests@ (table
-- expressions with filename and file_row_number), @as_of@ (YYYY-MM-DD).
-- Contact validation (every distinct email and phone once) runs in floor.py, in Python, with
-- the pipeline's own rules (orchestration/lib/contacts.py).

SET TimeZone = 'UTC';

CREATE OR REPLACE TEMP TABLE erased AS
SELECT DISTINCT trim(CAST(customer_id AS VARCHAR)) AS customer_id
FROM @erasure_requests@
WHERE nullif(trim(CAST(customer_id AS VARCHAR)), '') IS NOT NULL;

CREATE OR REPLACE TEMP TABLE orders_as_of AS
WITH typed AS (
    SELECT
        nullif(trim(CAST(order_id AS VARCHAR)), '') AS order_id,
        nullif(trim(CAST(customer_id AS VARCHAR)), '') AS customer_id,
        try_cast(CAST(ordered_at AS VARCHAR) AS TIMESTAMPTZ) AS ordered_at,
        lower(trim(CAST(status AS VARCHAR))) AS status,
        upper(trim(CAST(currency AS VARCHAR))) AS currency,
        try_cast(CAST(amount AS VARCHAR) AS DECIMAL(18, 2)) AS amount,
        try_cast(CAST(updated_at AS VARCHAR) AS TIMESTAMPTZ) AS updated_at,
        filename,
        file_row_number
    FROM @orders@
),
valid AS (
    SELECT *, coalesce(updated_at, ordered_at) < TIMESTAMPTZ '@as_of@' + INTERVAL 1 DAY AS known
    FROM typed
    WHERE order_id IS NOT NULL AND customer_id IS NOT NULL AND ordered_at IS NOT NULL
        AND amount IS NOT NULL AND currency <> ''
        AND status IN ('placed', 'paid', 'shipped', 'cancelled', 'refunded')
        AND ordered_at < TIMESTAMPTZ '@as_of@' + INTERVAL 1 DAY
        AND customer_id NOT IN (SELECT customer_id FROM erased)
)
SELECT order_id, customer_id, CAST(ordered_at AS DATE) AS order_date, status, currency, amount,
    status <> 'cancelled' AS is_purchase,
    CASE WHEN status IN ('cancelled', 'refunded') THEN 0 ELSE amount END AS revenue_amount
FROM valid
QUALIFY row_number() OVER (
    PARTITION BY order_id
    ORDER BY known DESC,
        CASE WHEN known THEN coalesce(updated_at, ordered_at) END DESC,
        coalesce(updated_at, ordered_at),
        filename DESC,
        file_row_number DESC
) = 1;

CREATE OR REPLACE TEMP TABLE customers_as_of AS
SELECT customer_id
FROM (
    SELECT nullif(trim(CAST(customer_id AS VARCHAR)), '') AS customer_id,
        try_cast(CAST(updated_at AS VARCHAR) AS TIMESTAMPTZ) AS updated_at,
        try_cast(CAST(created_at AS VARCHAR) AS TIMESTAMPTZ) AS created_at
    FROM @customers@
)
WHERE customer_id IS NOT NULL
    AND coalesce(created_at, updated_at, TIMESTAMPTZ '1970-01-01')
        < TIMESTAMPTZ '@as_of@' + INTERVAL 1 DAY
    AND customer_id NOT IN (SELECT customer_id FROM erased)
GROUP BY customer_id;

CREATE OR REPLACE TEMP TABLE customer_revenue_by_currency AS
SELECT customer_id, currency, count(*) AS purchases, sum(revenue_amount) AS revenue
FROM orders_as_of
WHERE is_purchase
GROUP BY customer_id, currency;

CREATE OR REPLACE TEMP TABLE customer_activity AS
WITH days AS (
    SELECT customer_id, order_date, count(*) AS purchases
    FROM orders_as_of
    WHERE is_purchase
    GROUP BY customer_id, order_date
)
SELECT
    customer_id,
    min(order_date) AS first_order_date,
    max(order_date) AS last_order_date,
    sum(purchases) AS purchases,
    count(*) AS purchase_days,
    max(order_date, 2) AS last_two_days
FROM days
GROUP BY customer_id;

CREATE OR REPLACE TEMP TABLE customer_status AS
WITH joined AS (
    SELECT
        c.customer_id,
        a.last_order_date,
        DATE '@as_of@' - a.last_order_date AS days_since_last_order,
        a.last_two_days[1] - a.last_two_days[2] AS days_between_last_two
    FROM customers_as_of AS c
    LEFT JOIN customer_activity AS a ON a.customer_id = c.customer_id
)
SELECT
    customer_id,
    CASE
        WHEN last_order_date IS NULL THEN 'prospect'
        WHEN days_since_last_order >= 360 THEN 'lapsed'
        WHEN days_since_last_order >= 180 THEN 'inactive'
        WHEN days_between_last_two >= 180 AND days_since_last_order < 90 THEN 'reactivated'
        WHEN days_since_last_order >= 150 THEN 'at_risk'
        ELSE 'active'
    END AS status
FROM joined;

SELECT status, count(*) AS customers FROM customer_status GROUP BY status ORDER BY status;
