{#- The data tests of the incremental as-of models (macros/incremental_as_of.sql) read only the
    keys a build wrote when that is enough, the whole table otherwise (issue 10: the uniqueness
    tests of int_orders_as_of and int_customer_purchase_days read 10M rows, about 2 s, on a day
    that rewrote 30,000). A test opts in with `config: {where: "__written_keys__"}`;
    get_where_subquery (macros/where_subquery.sql) puts in its place the predicate below.

    An incremental build deletes the rows of the changed keys and inserts their new rows, so it
    leaves every other row as the build it updated left it. If that build's table passed the test,
    a duplicate, a null or any row failing a row-level test can only be among the rows of the
    changed keys. So the test reads the changed keys' rows when all of these hold, else every row:
      - the tested model's build record (meta.incremental_as_of_builds) is this run's changed keys'
        (it applied them) and names the build it updated (it was not a first build or a rebuild);
      - meta.incremental_as_of_checks says this test passed on that build.
    The on-run-end hook (record_as_of_checks) writes the checks: for each such test the run ran,
    its previous record goes, and when it passed, the build it passed on is recorded. A failed or
    skipped test leaves no record, so the next day reads the whole table again, and fails again,
    until the table is repaired; a run that stops before the hook leaves the record of an older
    build, which no later build names as the one it updated. A test run by hand (`dbt test`)
    after a run reads the whole table: the build it tests is not the one recorded as passed.
    After editing these tables by hand, run `dbt test` on them (or delete their rows from
    meta.incremental_as_of_checks). -#}

{% macro as_of_checks_relation() -%}
    {{- return(meta_relation('incremental_as_of_checks')) -}}
{%- endmacro %}

{#- `__written_keys__` of the running data test: the changed keys' rows, or every row. -#}
{% macro as_of_written_keys() -%}
    {{ return(adapter.dispatch('as_of_written_keys', 'winback')()) }}
{%- endmacro %}

{#- Spark rebuilds the as-of tables whole each run: every row. -#}
{% macro spark__as_of_written_keys() -%}
    {{ return('1 = 1') }}
{%- endmacro %}

{% macro default__as_of_written_keys() -%}
    {%- set every_row = '1 = 1' -%}
    {%- if not execute or not model.get('attached_node') -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) -%}
    {%- set changes_node = graph.nodes.get('model.' ~ project_name ~ '.int_as_of_changed_keys') -%}
    {#- Only the incremental as-of models carry their key and grain in `meta`. -#}
    {%- if tested is none or changes_node is none or 'as_of_grain' not in tested.config.meta -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {#- From the graph, not ref(): a ref() first met while executing is a dependency dbt did not
        record when it parsed the test. -#}
    {%- set changes = api.Relation.create(database=changes_node.database,
                                          schema=changes_node.schema,
                                          identifier=changes_node.alias) -%}
    {%- set builds = incremental_as_of_state_relation() -%}
    {%- set checks = as_of_checks_relation() -%}
    {%- if not (relation_exists(changes) and relation_exists(builds) and relation_exists(checks)) -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {%- set rows = run_query(
        "select count(*) from " ~ builds ~ " as builds"
        ~ " inner join " ~ changes ~ " as changes on changes.key_grain = 'baseline'"
        ~ " and builds.as_of_date = changes.as_of_date and builds.watermark = changes.watermark"
        ~ " and builds.raw_rows = changes.raw_rows"
        ~ " inner join " ~ checks ~ " as checks on checks.build_id = builds.based_on"
        ~ " and checks.test_id = '" ~ model.unique_id ~ "'"
        ~ " where builds.model_name = '" ~ tested.alias ~ "'") -%}
    {%- if rows.columns[0].values()[0] != 1 -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {%- set key, grain = tested.config.meta.as_of_key, tested.config.meta.as_of_grain -%}
    {{- return(key ~ " in (select key_id from " ~ changes ~ " where key_grain = '" ~ grain ~ "')") -}}
{%- endmacro %}

{#- The on-run-end hook: record which tests reading `__written_keys__` passed, on which build. -#}
{% macro record_as_of_checks(results) -%}
    {{ return(adapter.dispatch('record_as_of_checks', 'winback')(results)) }}
{%- endmacro %}

{% macro spark__record_as_of_checks(results) -%}
{%- endmacro %}

{% macro default__record_as_of_checks(results) -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set ran = [] -%}
    {%- set passed = [] -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {%- if node.resource_type == 'test' and '__written_keys__' in (node.config.where or '') -%}
            {%- do ran.append("'" ~ node.unique_id ~ "'") -%}
            {%- set tested = graph.nodes.get(node.attached_node) -%}
            {%- if result.status == 'pass' and tested is not none -%}
                {%- do passed.append("select '" ~ node.unique_id ~ "', build_id from "
                    ~ incremental_as_of_state_relation()
                    ~ " where model_name = '" ~ tested.alias ~ "'") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not ran -%}
        {{- return('') -}}
    {%- endif -%}
    {#- Asked of the database, not dbt's relation cache: a table a hook created during the run
        (the first run on a warehouse) is not in the cache. -#}
    {%- set builds = incremental_as_of_state_relation() -%}
    {%- set found = run_query("select count(*) from information_schema.tables"
                              ~ " where table_schema = '" ~ builds.schema ~ "'"
                              ~ " and table_name = '" ~ builds.identifier ~ "'") -%}
    {%- if found.columns[0].values()[0] == 0 -%}
        {{- return('') -}}
    {%- endif -%}
    {#- One transaction (hooks run outside dbt's): the records of the tests that ran are replaced
        together. -#}
    {%- set checks = as_of_checks_relation() -%}
    {%- set create = ensure_meta_table(checks, 'test_id ' ~ dbt.type_string() ~ ', build_id '
                                       ~ dbt.type_string()) | trim -%}
    {%- if create -%}
        {%- call statement('as_of_checks_create', auto_begin=true) -%}{{ create }}{%- endcall -%}
    {%- endif -%}
    {%- call statement('as_of_checks_delete', auto_begin=true) -%}
        delete from {{ checks }} where test_id in ({{ ran | join(', ') }})
    {%- endcall -%}
    {%- if passed -%}
        {%- call statement('as_of_checks_insert', auto_begin=true) -%}
            insert into {{ checks }} (test_id, build_id) {{ passed | join(' union all ') }}
        {%- endcall -%}
    {%- endif -%}
    {%- do adapter.commit() -%}
    {{- return('') -}}
{%- endmacro %}
