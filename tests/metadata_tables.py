"""Read metadata tables (MetadataValue.table) back as plain Python values in assertions."""


def table_rows(value) -> list[dict]:
    return [record.data for record in value.records]


def table_counts(value) -> dict:
    """A two-column counts table (key, count) as a dict."""
    key, count = (column.name for column in value.schema.columns)
    return {record.data[key]: record.data[count] for record in value.records}
