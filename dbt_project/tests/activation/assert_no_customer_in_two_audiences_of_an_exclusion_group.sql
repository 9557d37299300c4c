{{ config(severity='error', meta={'dagster': {'ref': {'name': 'audience_membership_daily'}}}) }}
{%- set groups = audiences().get('exclusion_groups') or [] %}
-- On the run's as-of date no customer is a member (treatment or holdout) of two audiences of the
-- same exclusion group (config/audiences.yml), and no one on a global exclusion list is a
-- member of any audience.
with grouped as (
{%- for group in groups %}
{%- set group_loop = loop %}
{%- for name in group['audiences'] %}
    select
        cast('{{ name }}' as {{ dbt.type_string() }}) as audience,
        cast('{{ group["name"] }}' as {{ dbt.type_string() }}) as exclusion_group
    {{ 'union all' if not (loop.last and group_loop.last) }}
{%- endfor %}
{%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as audience,
        cast(null as {{ dbt.type_string() }}) as exclusion_group
    where 1 = 0
{%- endfor %}
),

members as (
    select audience, customer_id
    from {{ ref('audience_membership_daily') }}
    where as_of_date = {{ as_of_date() }}
),

listed as (
    select exclusions.customer_id
    from {{ ref('int_global_exclusions_as_of') }} as exclusions
    where exclusions.customer_id is not null
    union
    select contacts.customer_id
    from {{ ref('int_global_exclusions_as_of') }} as exclusions
    inner join {{ ref('contact_hygiene') }} as contacts
        on exclusions.email_normalized = contacts.email_normalized
)

select members.customer_id, grouped.exclusion_group as problem
from members
inner join grouped on members.audience = grouped.audience
group by members.customer_id, grouped.exclusion_group
having count(*) > 1

union all

select members.customer_id, 'global_exclusion' as problem
from members
inner join listed on members.customer_id = listed.customer_id
