{{ config(contract={'enforced': true}) }}

-- The BG/NBD's out-of-time check by P(alive) decile at the calibration end (1 = the tenth least
-- likely alive) among repeat buyers (P(alive) is 1 by construction without a repeat purchase): the
-- mean P(alive) against the share who bought again within the holdout period.
-- A model that ranks customers well shows the share rising with the decile.
with holdout as (
    select * from {{ ref('stg_predictions__customer_bgnbd_holdout') }}
    where calibration_p_alive is not null
        and calibration_frequency > 0
),

ranked as (
    select
        *,
        ntile(10) over (order by calibration_p_alive, customer_id) as p_alive_decile
    from holdout
)

select
    as_of_date,
    calibration_end_date,
    cast(p_alive_decile as {{ dbt.type_int() }}) as p_alive_decile,
    cast(count(*) as {{ dbt.type_bigint() }}) as customers,
    cast(min(calibration_p_alive) as {{ type_double() }}) as p_alive_min,
    cast(max(calibration_p_alive) as {{ type_double() }}) as p_alive_max,
    cast(avg(calibration_p_alive) as {{ type_double() }}) as p_alive_mean,
    cast(avg(case when actual_purchases > 0 then 1.0 else 0.0 end) as {{ type_double() }})
        as bought_again_share,
    cast(avg(predicted_purchases) as {{ type_double() }}) as predicted_per_customer,
    cast(avg(cast(actual_purchases as {{ type_double() }})) as {{ type_double() }})
        as actual_per_customer
from ranked
group by as_of_date, calibration_end_date, p_alive_decile
