import pytest

from orchestration.lib.contacts import check_email


@pytest.mark.parametrize(
    ("raw", "normalized", "reason"),
    [
        ("  Zoe.Old@Example.COM ", "zoe.old@example.com", None),
        ("ann@example.com", "ann@example.com", None),
        ("user@bücher.de", "user@bücher.de", None),
        (None, None, "missing"),
        ("   ", None, "missing"),
        ("bob at example", None, "syntax"),
        ("a..b@example.com", None, "syntax"),
        ("trailing@example.com.", None, "syntax"),
        ("=cmd@example.com", None, "formula_prefix"),
        ("+tag@example.com", None, "formula_prefix"),
        ("-x@example.com", None, "formula_prefix"),
    ],
)
def test_emails_are_trimmed_lowercased_and_flagged_with_a_reason(raw, normalized, reason):
    check = check_email(raw)
    assert check.email_normalized == normalized
    assert check.invalid_reason == reason
    assert check.is_valid is (reason is None)


def test_validation_never_touches_the_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("DNS lookup attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert check_email("someone@no-such-domain-winback.example").is_valid
