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
        ("trailing@example.com.", "trailing@example.com", None),  # the DNS root: same mailbox
        ("trailing@example.com..", None, "syntax"),
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


@pytest.mark.parametrize(
    "spelling",
    ["Sue@Example.COM.", " sue@example.com", "SUE@EXAMPLE.COM \t", "\u00a0sue@example.com.",
     "sue@Example.com."],
)
def test_spellings_of_one_mailbox_normalise_the_same_so_suppressions_match(spelling):
    """Regression: a suppression for `Sue@Example.COM.` (trailing dot of the domain) was invalid
    and did not match the customer's `sue@example.com`."""
    assert check_email(spelling).email_normalized == "sue@example.com"


def test_unicode_forms_and_idn_spellings_of_one_mailbox_normalise_the_same():
    import unicodedata

    spellings = [unicodedata.normalize("NFD", "José@Bücher.de"), "josé@xn--bcher-kva.de.",
                 " JOSÉ@BÜCHER.DE "]
    assert {check_email(s).email_normalized for s in spellings} == {"josé@bücher.de"}


def test_validation_never_touches_the_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("DNS lookup attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert check_email("someone@no-such-domain-winback.example").is_valid


@pytest.mark.parametrize(
    ("raw", "role"),
    [("noreply@shop.example", True), ("No-Reply@Shop.example", True), ("do_not_reply@x.org", True),
     ("info+news@x.org", True), ("postmaster@x.org", True), ("ann@x.org", False),
     ("information.desk.ann@x.org", False)],
)
def test_role_mailboxes_are_flagged_but_stay_valid(raw, role):
    check = check_email(raw)
    assert check.is_valid
    assert check.is_role_address is role


@pytest.mark.parametrize(
    ("raw", "disposable"),
    [("a@mailinator.com", True), ("a@eu.mailinator.com", True), ("a@MAILINATOR.COM", True),
     ("a@example.com", False), ("a@gmail.com", False)],
)
def test_disposable_domains_and_their_subdomains_are_flagged(raw, disposable):
    assert check_email(raw).is_disposable_domain is disposable


def test_the_disposable_list_version_is_known():
    from orchestration.lib.contacts import DISPOSABLE_LIST_VERSION

    assert DISPOSABLE_LIST_VERSION.count(".") >= 1


@pytest.mark.parametrize(
    ("raw", "country", "e164", "extension", "kind", "reason"),
    [
        ("07911 123456", "GB", "+447911123456", None, "mobile", None),
        (" 07911 123456 ", "gb", "+447911123456", None, "mobile", None),
        ("+44 7911 123456 ext. 12", "US", "+447911123456", "12", "mobile", None),
        ("(202) 555-0143 x99", "US", "+12025550143", "99", "fixed_line_or_mobile", None),
        ("030 1234567", "DE", "+49301234567", None, "fixed_line", None),
        ("+44 20 7946 0958", None, "+442079460958", None, "fixed_line", None),
        ("07911 123456", None, None, None, None, "no_region"),
        ("12345", "GB", None, None, None, "invalid_number"),
        ("+44 1234", "GB", None, None, None, "invalid_number"),
        ("not a number", "GB", None, None, None, "unparseable"),
        ("", "GB", None, None, None, "missing"),
        (None, "GB", None, None, None, "missing"),
    ],
)
def test_phones_become_e164_with_the_extension_apart_or_null_with_a_reason(
    raw, country, e164, extension, kind, reason
):
    from orchestration.lib.contacts import check_phone

    check = check_phone(raw, country)
    assert (check.phone_e164, check.phone_extension, check.phone_type, check.invalid_reason) == (
        e164, extension, kind, reason)
    assert check.is_valid is (reason is None)


def test_a_well_formed_but_unassigned_number_is_not_formatted():
    """Regression guard: phonenumbers formats invalid numbers happily; validity decides."""
    from orchestration.lib.contacts import check_phone

    assert check_phone("+1 555 0100 000", "US").phone_e164 is None


def _example_numbers() -> list[str]:
    """phonenumbers' example number of every region (several regions share +1, +7, +44, ...)
    and every non-geographic calling code, in international format, each with one digit more
    and one less beside it (mostly invalid)."""
    import phonenumbers

    numbers = [phonenumbers.example_number_for_type(region, kind)
               for region in sorted(phonenumbers.SUPPORTED_REGIONS)
               for kind in (phonenumbers.PhoneNumberType.FIXED_LINE,
                            phonenumbers.PhoneNumberType.MOBILE,
                            phonenumbers.PhoneNumberType.TOLL_FREE)]
    numbers += [phonenumbers.example_number_for_non_geo_entity(code)
                for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)]
    texts = [phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
             for n in numbers if n is not None]
    return [t for text in texts for t in (text, text + "5", text[:-1])]


def test_a_number_is_valid_exactly_when_phonenumbers_says_so_in_every_region():
    """check_phone asks phonenumbers for the type only (UNKNOWN = invalid), which must agree with
    is_valid_number on numbers of every region, shared calling codes and non-geographic ones
    included; a valid one gets its E.164 form."""
    import phonenumbers

    from orchestration.lib.contacts import check_phone

    texts = _example_numbers()
    assert len(texts) > 1000
    valid = 0
    for text in texts:
        number = phonenumbers.parse(text, None)
        check = check_phone(text, None)
        assert check.is_valid is phonenumbers.is_valid_number(number), text
        if check.is_valid:
            valid += 1
            assert check.phone_e164 == phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164)
    assert 0 < valid < len(texts)
