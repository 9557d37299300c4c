{%- set audience_config = audiences() -%}
{%- set groups = audience_config.get('exclusion_groups') or [] -%}
{{ daily_incremental_config() }}

-- How much the audiences overlap on each as-of date: for every pair of audiences with members
-- that day, both sizes, the customers in both and that count as a share of each. Members are
-- everyone in audience_membership_daily (treatment, holdout and capped alike: all of them were
-- chosen for both lists), after exclusion groups and global exclusion lists. Flags say whether
-- both are promotions and whether an exclusion group already keeps them apart.
with members as (
    select audience, customer_id
    from {{ ref('audience_membership_daily') }}
    where as_of_date = {{ as_of_date() }}
),

sizes as (
    select audience, cast(count(*) as {{ dbt.type_int() }}) as members
    from members
    group by audience
),

audience_settings as (
{%- set group_of = {} %}
{%- for group in groups %}{% for name in group['audiences'] %}{% do group_of.update({name: group['name']}) %}{% endfor %}{% endfor %}
{%- for audience in audience_config["audiences"] %}
    select
        cast('{{ audience["name"] }}' as {{ dbt.type_string() }}) as audience,
        {{ 'true' if audience['purpose'] == 'promotion' else 'false' }} as is_promotion,
        {% if audience['name'] in group_of -%}
        cast('{{ group_of[audience["name"]] }}' as {{ dbt.type_string() }})
        {%- else -%}
        cast(null as {{ dbt.type_string() }})
        {%- endif %} as exclusion_group
    {{ 'union all' if not loop.last }}
{%- endfor %}
),

pair_overlaps as (
    select
        a.audience as audience_a,
        b.audience as audience_b,
        cast(count(*) as {{ dbt.type_int() }}) as overlap_customers
    from members as a
    inner join members as b on a.customer_id = b.customer_id
        and {{ bytewise('a.audience') }} < {{ bytewise('b.audience') }}
    group by a.audience, b.audience
)

select
    {{ as_of_date() }} as as_of_date,
    size_a.audience as audience_a,
    size_b.audience as audience_b,
    size_a.members as members_a,
    size_b.members as members_b,
    coalesce(pair_overlaps.overlap_customers, 0) as overlap_customers,
    cast(coalesce(pair_overlaps.overlap_customers, 0) as {{ type_double() }}) / size_a.members as share_of_a,
    cast(coalesce(pair_overlaps.overlap_customers, 0) as {{ type_double() }}) / size_b.members as share_of_b,
    coalesce(settings_a.is_promotion and settings_b.is_promotion, false) as both_promotion,
    coalesce(settings_a.exclusion_group = settings_b.exclusion_group, false) as same_exclusion_group
from sizes as size_a
inner join sizes as size_b on {{ bytewise('size_a.audience') }} < {{ bytewise('size_b.audience') }}
left join pair_overlaps
    on size_a.audience = pair_overlaps.audience_a and size_b.audience = pair_overlaps.audience_b
left join audience_settings as settings_a on size_a.audience = settings_a.audience
left join audience_settings as settings_b on size_b.audience = settings_b.audience
