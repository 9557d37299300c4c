{#- A rate as an 8-byte float: numerator / denominator, null when the denominator is 0 or null
    (a rate of nobody is unknown, not zero). The metric models state every formula with it. -#}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif({{ denominator }}, 0)
{%- endmacro %}
