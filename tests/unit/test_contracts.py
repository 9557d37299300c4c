from orchestration.lib.contracts import CONTRACTS, ColumnType, render_markdown
from orchestration.lib.settings import REPO_ROOT


def test_readme_shows_the_contracts_the_code_enforces():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- contracts:start -->\n", 1)[1].split("<!-- contracts:end -->", 1)[0]
    assert section.strip() == render_markdown().strip(), "run `winback contracts` into README.md"


def test_every_spec_entity_has_a_contract_and_orders_and_customers_are_required():
    assert set(CONTRACTS) == {
        "orders", "order_items", "customers", "consent_events", "suppressions",
        "erasure_requests", "support_tickets", "loyalty_ledger", "exclusions",
    }
    assert {e for e, c in CONTRACTS.items() if c.required_entity} == {"orders", "customers"}


def test_keys_are_required_columns_and_enums_list_their_values():
    for contract in CONTRACTS.values():
        for key in contract.key:
            # A key column is required, or one of the columns a row needs at least one of.
            assert key in contract.required_columns + contract.any_of, (contract.entity, key)
        for column in contract.columns:
            assert (column.type is ColumnType.ENUM) == bool(column.values), column.name
