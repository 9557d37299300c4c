{#- contact_hygiene updated for the customers whose row can differ (issue 10), instead of joining
    every customer with the checks, consent and suppressions again each day (1M customers: ~3 s
    of CPU a run). A customer's row depends on
      - their CRM row and erasure (int_customers_as_of), and the checks of their raw email and
        phone, which are kept by value and change only when the checking rules change;
      - their consent per channel, and the suppression of their normalised address, as of D;
      - for the ownership of a shared address or number: every holder's validity and creation
        time.
    So a build for D on or after the previous one (the same conditions as the incremental as-of
    models: macros/incremental_as_of.sql) recomputes
      - the CRM customers int_as_of_changed_keys names (new versions, the moving cutoff,
        erasures: grain 'crm_customer');
      - the customers whose stored consent or suppression differs from int_customer_consent_as_of
        and int_email_suppressions_as_of now, whatever made it change (a late event, an event
        dated after the previous date, a newly checked suppression address);
      - every holder of an address or number any of the CRM customers above held before or holds
        now, whose ownership can move;
    and rebuilds the table when the checking rules (hygiene.rules) differ from those of its
    previous build. The rows left as they were get the new as_of_date in a post-hook. Owners are
    ranked among the recomputed holders and the other holders of the same values (their rows as
    kept, their creation time from int_customers_as_of).
    The customers to recompute are written to a temporary table before their rows are deleted
    (its pre-hook), because the addresses they held are read from those rows. Spark rebuilds the
    table each run, as it does the incremental as-of models. -#}

{% macro contact_hygiene_config() -%}
    {{ return(adapter.dispatch('contact_hygiene_config', 'winback')()) }}
{%- endmacro %}

{% macro spark__contact_hygiene_config() -%}
    {{ config(materialized='table', file_format='parquet', contract={'enforced': true}) }}
{%- endmacro %}

{% macro default__contact_hygiene_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        contract={'enforced': true},
        pre_hook=[
            "{{ incremental_as_of_ensure_state() }}",
            "{{ contact_hygiene_ensure_rules_table() }}",
            "{{ contact_hygiene_drop_recomputed() }}",
            "{{ contact_hygiene_collect_recomputed() }}",
            "{{ contact_hygiene_delete() }}",
            "{{ incremental_as_of_record_state() }}",
        ],
        post_hook=[
            "{{ contact_hygiene_move_as_of_date() }}",
            "{{ contact_hygiene_drop_recomputed() }}",
            "{{ contact_hygiene_forget_rules() }}",
            "{{ contact_hygiene_record_rules() }}",
            "{{ incremental_as_of_clear_state() }}",
        ],
    ) }}
{%- endmacro %}

{% macro contact_hygiene_rules_relation() -%}
    {{- return(meta_relation('contact_hygiene_rules')) -}}
{%- endmacro %}

{#- The customers this build recomputes: a temporary table, named apart from any model. -#}
{% macro contact_hygiene_recomputed() -%}
    {{- return('winback_contact_hygiene_recomputed') -}}
{%- endmacro %}

{% macro contact_hygiene_ensure_rules_table() -%}
    {{- ensure_meta_table(contact_hygiene_rules_relation(),
                          'table_name ' ~ dbt.type_string() ~ ', fingerprint '
                          ~ dbt.type_string()) -}}
{%- endmacro %}

{#- The checking rules of the previous build are today's: no row of either set is missing from
    the other (none recorded yet: false). -#}
{% macro contact_hygiene_rules_unchanged() -%}
    {%- if not relation_exists(contact_hygiene_rules_relation()) -%}
        {{- return('1 = 0') -}}
    {%- endif -%}
    {%- set recorded = contact_hygiene_rules_relation() -%}
    {%- set current = source('hygiene', 'rules') -%}
    {%- set condition -%}
        not exists (select table_name, fingerprint from {{ current }}
                    except select table_name, fingerprint from {{ recorded }})
        and not exists (select table_name, fingerprint from {{ recorded }}
                        except select table_name, fingerprint from {{ current }})
    {%- endset -%}
    {{- return(condition) -}}
{%- endmacro %}

{#- Whether this build recomputes only some customers: the incremental as-of models' answer with
    the rules unchanged, kept in the node's `model` dict where as_of_updates_incrementally keeps
    its own, so that the build record (incremental_as_of_record_state) agrees. -#}
{% macro contact_hygiene_updates_incrementally() -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set memo = model if model is mapping else {} -%}
    {%- if 'winback_updates_incrementally' not in memo -%}
        {%- set answer = as_of_updates_incrementally(contact_hygiene_rules_unchanged()) -%}
        {%- do memo.update({'winback_updates_incrementally': answer}) -%}
    {%- endif -%}
    {{- return(memo['winback_updates_incrementally']) -}}
{%- endmacro %}

{% macro contact_hygiene_drop_recomputed() -%}
    {%- if contact_hygiene_updates_incrementally() -%}
        drop table if exists {{ contact_hygiene_recomputed() }}
    {%- endif -%}
{%- endmacro %}

{#- The customers whose row this build recomputes (see the top), from the rows as they are. -#}
{% macro contact_hygiene_collect_recomputed() -%}
    {%- if contact_hygiene_updates_incrementally() -%}
    create temporary table {{ contact_hygiene_recomputed() }} as
    with changed as (
        select key_id as customer_id
        from {{ ref('int_as_of_changed_keys') }}
        where key_grain = 'crm_customer'
    ),

    changed_now as (
        select
            case when emails.is_valid then emails.email_normalized end as email_normalized,
            case when phones.is_valid then phones.phone_e164 end as phone_e164
        from {{ ref('int_customers_as_of') }} as customers
        inner join changed on customers.customer_id = changed.customer_id
        left join {{ source('hygiene', 'email_checks') }} as emails
            on customers.email_raw = emails.email_raw
        left join {{ source('hygiene', 'phone_checks') }} as phones
            on customers.phone_raw = phones.phone_raw
            and customers.country_code is not distinct from phones.country_code
    ),

    changed_before as (
        select
            case when kept.is_email_valid then kept.email_normalized end as email_normalized,
            case when kept.is_phone_valid then kept.phone_e164 end as phone_e164
        from {{ this }} as kept
        inner join changed on kept.customer_id = changed.customer_id
    ),

    held_values as (
        select email_normalized, phone_e164 from changed_now
        union all
        select email_normalized, phone_e164 from changed_before
    ),

    consent_moved as (
        select kept.customer_id
        from {{ this }} as kept
        left join {{ ref('int_customer_consent_as_of') }} as email_consent
            on kept.customer_id = email_consent.customer_id and email_consent.channel = 'email'
        left join {{ ref('int_customer_consent_as_of') }} as sms_consent
            on kept.customer_id = sms_consent.customer_id and sms_consent.channel = 'sms'
        where kept.email_consent_status <> coalesce(email_consent.consent_status, 'no_consent')
            or kept.sms_consent_status <> coalesce(sms_consent.consent_status, 'no_consent')
    ),

    suppression_moved as (
        select kept.customer_id
        from {{ this }} as kept
        left join {{ ref('int_email_suppressions_as_of') }} as suppressions
            on kept.email_normalized = suppressions.email_normalized
        where kept.email_suppression_reason is distinct from suppressions.suppression_reason
    )

    select customer_id from changed
    union
    select kept.customer_id from {{ this }} as kept
    where kept.is_email_valid
        and kept.email_normalized in (select email_normalized from held_values)
    union
    select kept.customer_id from {{ this }} as kept
    where kept.is_phone_valid
        and kept.phone_e164 in (select phone_e164 from held_values)
    union
    select customer_id from consent_moved
    union
    select customer_id from suppression_moved
    {%- endif -%}
{%- endmacro %}

{#- The rows about to be recomputed: those of the collected customers, or every row on a rebuild
    of an existing table. -#}
{% macro contact_hygiene_delete() -%}
    {%- if contact_hygiene_updates_incrementally() -%}
        delete from {{ this }}
        where customer_id in (select customer_id from {{ contact_hygiene_recomputed() }})
    {%- elif is_incremental() -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- In the model: only the collected customers, or every customer. -#}
{% macro contact_hygiene_filter(key) -%}
    {%- if contact_hygiene_updates_incrementally() -%}
        {{ key }} in (select customer_id from {{ contact_hygiene_recomputed() }})
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{% macro contact_hygiene_move_as_of_date() -%}
    {%- if contact_hygiene_updates_incrementally() -%}
        update {{ this }} set as_of_date = {{ as_of_date() }}
        where as_of_date <> {{ as_of_date() }}
    {%- endif -%}
{%- endmacro %}

{#- The checking rules this build applied, for the next build to compare. -#}
{% macro contact_hygiene_forget_rules() -%}
    delete from {{ contact_hygiene_rules_relation() }}
{%- endmacro %}

{% macro contact_hygiene_record_rules() -%}
    insert into {{ contact_hygiene_rules_relation() }} (table_name, fingerprint)
    select table_name, fingerprint from {{ source('hygiene', 'rules') }}
{%- endmacro %}
