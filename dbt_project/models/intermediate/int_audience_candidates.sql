{%- set config = audiences() -%}
{%- set default_points_window = 30 -%}
{%- set groups = config.get('exclusion_groups') or [] -%}

-- Who qualifies for each configured audience as of the run date (config/audiences.yml, passed
-- as the var `audiences`), before the frequency cap, with the holdout group and every column an
-- export may carry. Filters are generated from structured fields, never from SQL in the config.
-- Everybody here is contactable on the audience's channel; promotions leave out customers with
-- an open complaint and the service list holds only them. Customers left out by a global
-- exclusion list or by a higher-priority audience of the same exclusion group stay here with
-- exclusion_reason and excluded_by set, so the membership history can say why.
with status as (
    select customer_id, as_of_date, status, last_order_date, days_since_last_order, inactive_since,
        clv, expected_purchases_90d, model_check_passed
    from {{ ref('customer_inactivity_status') }}
),

activity as (
    select customer_id, last_category, rfm_segment, revenue_main_currency, main_currency
    from {{ ref('customer_activity') }}
),

contacts as (
    select customer_id, email_normalized, phone_e164, is_contactable_email
    from {{ ref('contact_hygiene') }}
),

customers as (
    select customer_id, first_name, last_name, country_code, postal_code
    from {{ ref('int_customers_as_of') }}
),

support as (
    select customer_id, has_open_complaint from {{ ref('int_customer_support_flags') }}
),

loyalty as (
    select customer_id, points_balance from {{ ref('int_customer_loyalty_balance') }}
),

-- Points granted up to the as-of day that are still valid at its end.
valid_points as (
    select customer_id, points, expires_at
    from {{ ref('stg_shop__loyalty_ledger') }}
    where occurred_at < {{ as_of_cutoff() }}
      and points > 0
      and expires_at is not null
      and expires_at >= {{ as_of_cutoff() }}
),

base as (
    select
        status.customer_id,
        status.as_of_date,
        status.status,
        status.last_order_date,
        status.days_since_last_order,
        status.inactive_since,
        status.clv,
        status.expected_purchases_90d,
        status.model_check_passed,
        {{ dbt.datediff('status.inactive_since', 'status.as_of_date', 'day') }} as days_inactive,
        activity.last_category,
        activity.rfm_segment,
        activity.revenue_main_currency,
        activity.main_currency,
        contacts.email_normalized as email,
        contacts.phone_e164 as phone,
        contacts.is_contactable_email,
        customers.first_name,
        customers.last_name,
        customers.country_code as country,
        customers.postal_code,
        coalesce(support.has_open_complaint, false) as has_open_complaint,
        cast(coalesce(loyalty.points_balance, 0) as {{ dbt.type_int() }}) as loyalty_points
    from status
    inner join contacts on status.customer_id = contacts.customer_id
    inner join customers on status.customer_id = customers.customer_id
    left join activity on status.customer_id = activity.customer_id
    left join support on status.customer_id = support.customer_id
    left join loyalty on status.customer_id = loyalty.customer_id
    -- Every audience takes contactable customers only: the others are never joined further.
    where contacts.is_contactable_email
),

{% for audience in config['audiences'] %}
{%- set window = audience['points_expiring_within_days'] or default_points_window %}
expiring_{{ loop.index }} as (
    -- Points that expire within {{ window }} days of the as-of day.
    select
        customer_id,
        sum(points) as points_expiring,
        min(expires_at) as first_expiry
    from valid_points
    where expires_at < {{ dbt.dateadd('day', window, as_of_cutoff()) }}
    group by customer_id
),

audience_{{ loop.index }} as (
    select
        cast('{{ audience["name"] }}' as {{ dbt.type_string() }}) as audience,
        cast('{{ audience["definition_hash"] }}' as {{ dbt.type_string() }}) as definition_hash,
        base.*,
        -- Never more than the balance: a redemption may already have used expiring points.
        case
            when expiring.points_expiring is null then 0
            when expiring.points_expiring < base.loyalty_points then expiring.points_expiring
            else base.loyalty_points
        end as points_expiring,
        cast(expiring.first_expiry as date) as points_expire_on,
        cast({{ audience_member_value(audience) }} as {{ type_double() }}) as member_value
    from base
    left join expiring_{{ loop.index }} as expiring on base.customer_id = expiring.customer_id
    where base.status in {{ text_list(audience['statuses']) }}
      {%- if audience['purpose'] == 'service' %}
      and base.has_open_complaint
      {%- else %}
      and not base.has_open_complaint
      {%- endif %}
      {%- if audience['rfm_segments'] %}
      and base.rfm_segment in {{ text_list(audience['rfm_segments']) }}
      {%- endif %}
      {{ audience_value_floor(audience) }}
      {%- if audience['days_inactive_min'] is not none %}
      and base.days_inactive >= {{ audience['days_inactive_min'] }}
      {%- endif %}
      {%- if audience['days_inactive_max'] is not none %}
      and base.days_inactive <= {{ audience['days_inactive_max'] }}
      {%- endif %}
),
{% endfor %}

candidates as (
{%- for audience in config['audiences'] %}
    select * from audience_{{ loop.index }}
    {%- if audience['points_expiring_within_days'] %}
    where points_expiring > 0
    {%- endif %}
    {{ 'union all' if not loop.last }}
{%- endfor %}
),

shares as (
{%- for audience in config['audiences'] %}
    select
        cast('{{ audience["name"] }}' as {{ dbt.type_string() }}) as audience,
        cast({{ audience['holdout_share'] }} * 4294967296 as {{ type_double() }}) as holdout_below,
        cast({{ audience['frequency_cap_days'] }} as {{ dbt.type_int() }}) as frequency_cap_days
    {{ 'union all' if not loop.last }}
{%- endfor %}
),

-- Exclusion groups (config/audiences.yml): each grouped audience with its group and its rank,
-- 1 = highest priority.
priorities as (
{%- for group in groups %}
{%- set group_loop = loop %}
{%- for name in group['audiences'] %}
    select
        cast('{{ name }}' as {{ dbt.type_string() }}) as audience,
        cast('{{ group["name"] }}' as {{ dbt.type_string() }}) as exclusion_group,
        cast({{ loop.index }} as {{ dbt.type_int() }}) as group_priority
    {{ 'union all' if not (loop.last and group_loop.last) }}
{%- endfor %}
{%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as audience,
        cast(null as {{ dbt.type_string() }}) as exclusion_group,
        cast(null as {{ dbt.type_int() }}) as group_priority
    where 1 = 0
{%- endfor %}
),

-- Customers on a global exclusion list, by customer id or by normalised email (the first list
-- by name when several apply).
global_exclusions as (
    select customer_id, email_normalized, list_name from {{ ref('int_global_exclusions_as_of') }}
),

listed as (
    select base.customer_id, global_exclusions.list_name
    from base
    inner join global_exclusions on base.customer_id = global_exclusions.customer_id
    union all
    select base.customer_id, global_exclusions.list_name
    from base
    inner join global_exclusions on base.email = global_exclusions.email_normalized
),

listed_customers as (
    select customer_id, min(list_name) as list_name from listed group by customer_id
),

assessed as (
    select
        candidates.*,
        shares.frequency_cap_days,
        case
            when {{ holdout_bucket(config['holdout_seed'], 'candidates.audience', 'candidates.customer_id') }}
                < shares.holdout_below then 'holdout'
            else 'treatment'
        end as holdout_group,
        priorities.exclusion_group,
        priorities.group_priority,
        listed_customers.list_name as exclusion_list
    from candidates
    inner join shares on candidates.audience = shares.audience
    left join priorities on candidates.audience = priorities.audience
    left join listed_customers on candidates.customer_id = listed_customers.customer_id
),

-- Within a group, a customer goes to the highest-priority audience they qualify for (global
-- exclusions first: a listed customer wins nothing). The group decides before the holdout and
-- the frequency cap, so a lower audience never gets a higher one's holdout or capped members.
group_winners as (
    select customer_id, exclusion_group, audience as winner
    from (
        select
            customer_id,
            exclusion_group,
            audience,
            row_number() over (partition by customer_id, exclusion_group order by group_priority) as rank_in_group
        from assessed
        where exclusion_group is not null and exclusion_list is null
    ) as ranked
    where rank_in_group = 1
)

select
    assessed.*,
    -- The A/B/n variant of a treated member (null for the holdout and audiences without
    -- variants): md5 of seed|variant|audience|customer_id, independent of the holdout split.
    {%- set split = config['audiences'] | selectattr('variants') | list %}
    cast(
    {%- if split %}
        case when assessed.holdout_group = 'treatment' then
            case assessed.audience
            {%- for audience in split %}
                when '{{ audience["name"] }}' then {{ audience_variant(audience, config['holdout_seed'], 'assessed.customer_id') }}
            {%- endfor %}
            end
        end
    {%- else %} null
    {%- endif %} as {{ dbt.type_string() }}) as variant,
    case
        when assessed.exclusion_list is not null then 'global_exclusion'
        when group_winners.winner <> assessed.audience then 'exclusion_group'
    end as exclusion_reason,
    case
        when assessed.exclusion_list is not null then assessed.exclusion_list
        when group_winners.winner <> assessed.audience then group_winners.winner
    end as excluded_by
from assessed
left join group_winners
    on assessed.customer_id = group_winners.customer_id
    and assessed.exclusion_group = group_winners.exclusion_group
