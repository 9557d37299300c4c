{#- A rate as an 8-byte float: numerator / denominator, null when the denominator is 0 or null
    (a rate of nobody is unknown, not zero). The metric models state every formula with it. -#}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- The outcome columns of a win-back test from a relation with treated_customers,
    treated_conversions, treated_conversion_rate, holdout_customers, holdout_conversions and
    holdout_conversion_rate (plus the `keys` it is grouped by): the absolute lift (treated rate -
    holdout rate) with its 95 % Wald confidence interval, and whether the conversion window of
    `window` days after send_date has ended by the as-of date. -#}
{% macro conversion_lift(rates, keys, window) %}
select
    {% for key in keys -%}
    {{ key }},
    {% endfor -%}
    {{ as_of_date() }} as as_of_date,
    cast({{ window }} as {{ dbt.type_int() }}) as conversion_window_days,
    {{ dbt.dateadd('day', window, 'send_date') }} <= {{ as_of_date() }} as is_window_complete,
    cast(treated_customers as {{ dbt.type_int() }}) as treated_customers,
    cast(treated_conversions as {{ dbt.type_int() }}) as treated_conversions,
    cast(treated_conversion_rate as {{ type_double() }}) as treated_conversion_rate,
    cast(holdout_customers as {{ dbt.type_int() }}) as holdout_customers,
    cast(holdout_conversions as {{ dbt.type_int() }}) as holdout_conversions,
    cast(holdout_conversion_rate as {{ type_double() }}) as holdout_conversion_rate,
    cast(absolute_lift as {{ type_double() }}) as absolute_lift,
    cast(absolute_lift - 1.959964 * lift_standard_error as {{ type_double() }}) as lift_ci_low,
    cast(absolute_lift + 1.959964 * lift_standard_error as {{ type_double() }}) as lift_ci_high
from (
    select
        *,
        treated_conversion_rate - holdout_conversion_rate as absolute_lift,
        sqrt(
            treated_conversion_rate * (1 - treated_conversion_rate) / treated_customers
            + holdout_conversion_rate * (1 - holdout_conversion_rate) / holdout_customers
        ) as lift_standard_error
    from {{ rates }}
) as lift
{% endmacro %}
