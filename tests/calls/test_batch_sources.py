"""A batch's input before the database: encodings, delimiters, quoted newlines and line
numbers, broken lines, JSON item by item; and fetching a file_url: https from a loopback TLS
server, refused private, loopback and link-local addresses (names and redirects included),
s3:// against moto's S3 server on loopback."""

import io

import pytest

from calls.batch_sources import (
    FetchPolicy,
    S3Config,
    address_allowed,
    https_fetch,
    open_rows,
    s3_fetch,
    sniff_delimiter,
)
from calls.batch_sources.fetch import _PinnedHTTPSConnection
from calls.exceptions import (
    BatchSourceRefused,
    BatchSourceTooLarge,
    BatchSourceUnavailable,
    BatchSourceUnreadable,
)
from tests.fakes import s3_server
from tests.fakes.https_files import FakeFileServer, Served

CSV = "phone,name\n+14155550101,Zoé\n"


def read(data: bytes, **kwargs):
    rows = open_rows(io.BytesIO(data), **kwargs)
    return rows, [(row.line_number, row.values, row.error) for row in rows]


# --- encodings and delimiters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (CSV.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + CSV.encode("utf-8"), "utf-8-sig"),
        (CSV.encode("utf-16"), "utf-16"),  # with its BOM
        (CSV.encode("utf-16-le"), "utf-16-le"),  # without
        (CSV.encode("utf-16-be"), "utf-16-be"),
        (CSV.replace("Zoé", "Zoé – “ok”").encode("cp1252"), "cp1252"),
        (CSV.encode("latin-1") + "\x81".encode("latin-1"), "latin-1"),  # not cp1252
    ],
)
def test_the_encoding_is_detected(data, encoding):
    rows, read_rows = read(data)

    assert rows.encoding == encoding
    assert rows.columns == ["phone", "name"]
    assert read_rows[0][1]["name"].startswith("Zoé")


def test_utf8_with_one_damaged_byte_is_read_as_utf8_not_mojibake():
    data = "phone,name\n+1,Zoé\n+2,Chloé\n".encode() + b"+3,bad\xff\n"
    _rows, read_rows = read(data)

    assert [values["name"] for _line, values, _error in read_rows] == ["Zoé", "Chloé", "bad\ufffd"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(delimiter):
    text = delimiter.join(["phone", "name", "note"]) + "\n"
    text += delimiter.join(["+14155550101", "Ada", '"a, b; c|d"']) + "\n"
    _rows, read_rows = read(text.encode())

    assert read_rows == [(2, {"phone": "+14155550101", "name": "Ada", "note": "a, b; c|d"}, "")]


def test_sniffing_prefers_the_delimiter_the_lines_agree_on():
    sample = "name;phone\nSmith, John;+1\nDoe, Jane;+2\n"

    assert sniff_delimiter(sample) == ";"
    assert sniff_delimiter("phone\n+1\n") == ","


# --- lines ---------------------------------------------------------------------------------------


def test_quoted_fields_may_span_lines_and_rows_keep_the_line_they_start_on():
    text = (
        "phone,note\r\n"  # 1
        '+1,"first\r\nsecond\r\nthird"\r\n'  # 2-4
        "+2,plain\r\n"  # 5
        "\r\n"  # 6 (blank: not a row)
        '+3,"a ""quoted"" word\nand more"\n'  # 7-8
        "+4,last"  # 9, no newline at the end
    )
    _rows, read_rows = read(text.encode())

    assert [(line, values["phone"]) for line, values, _ in read_rows] == [
        (2, "+1"),
        (5, "+2"),
        (7, "+3"),
        (9, "+4"),
    ]
    assert read_rows[0][1]["note"] == "first\r\nsecond\r\nthird"
    assert read_rows[2][1]["note"] == 'a "quoted" word\nand more'


def test_broken_lines_are_reported_with_their_line_and_the_rest_is_read():
    text = (
        "phone,name\n"  # 1
        "+1,Ada\n"  # 2
        '+2,"Bob"by\n'  # 3: text after a closing quote
        "+3,Cy,extra\n"  # 4: more fields than the header
        "+4,D\x00ee\n"  # 5: a NUL character
        '+5,"never closed\n'  # 6: the quote swallows the next lines...
        "+6,Eve\n"  # 7
        "+7,Fay\n"  # 8
    )
    _rows, read_rows = read(text.encode())

    assert read_rows == [
        (2, {"phone": "+1", "name": "Ada"}, ""),
        (3, None, "Unreadable line: ',' expected after '\"'."),
        (4, None, "Unreadable line: 3 fields where the header has 2."),
        (5, None, "Unreadable line: it contains a NUL character."),
        (6, None, "Unreadable line: a quoted field is never closed."),
        (7, {"phone": "+6", "name": "Eve"}, ""),  # ...and they are read again on their own
        (8, {"phone": "+7", "name": "Fay"}, ""),
    ]


def test_a_stray_quote_costs_one_row_even_far_from_the_end():
    lines = ["phone,name\n", '+1,"stray\n'] + [f"+{n},Name {n}\n" for n in range(2, 300)]
    _rows, read_rows = read("".join(lines).encode())

    assert read_rows[0] == (
        2,
        None,
        "Unreadable line: a quoted field runs over more than 100 lines (a stray quote?).",
    )
    assert [line for line, values, _ in read_rows[1:]] == list(range(3, 301))


def test_short_rows_are_padded_and_the_header_is_tidied():
    _rows, read_rows = read(b" phone ,,name\n+1\n")

    assert _rows.columns == ["phone", "column_2", "name"]
    assert read_rows == [(2, {"phone": "+1", "column_2": "", "name": ""}, "")]


def test_a_header_naming_a_column_twice_is_refused():
    with pytest.raises(BatchSourceUnreadable, match="'phone' twice"):
        read(b"phone,name,phone\n+1,a,+2\n")


# --- JSON ----------------------------------------------------------------------------------------


def test_json_is_read_item_by_item_across_buffer_refills():
    items = ",\n".join(
        f'{{"phone": "+1415555{n:04d}", "note": "{"x" * 700}", "n": {n}}}' for n in range(3000)
    )
    rows, read_rows = read(f"[{items}]".encode(), name="list.json")

    assert len(read_rows) == 3000
    assert read_rows[-1][0] == 3000 and read_rows[-1][1]["n"] == 2999
    assert rows.columns == ["phone", "note", "n"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"phone": "+1"}', "expected an array"),
        ('[{"phone": "+1"} {"phone": "+2"}]', "expected ',' or ']'"),
        ('[{"phone": "+1"},\n{"phone": ]', "Expecting value (line 2)"),
        ('[{"phone": "+1"}', "never closed"),
        ('[{"phone": "+1"}] trailing', "after the array"),
    ],
)
def test_json_that_cannot_be_read_is_refused_with_its_line(text, message):
    with pytest.raises(
        BatchSourceUnreadable, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        read(text.encode(), name="x.json")


def test_a_spreadsheet_is_refused_with_a_pointer_to_csv_or_the_admin():
    with pytest.raises(BatchSourceUnreadable, match="save it as CSV"):
        read(b"PK\x03\x04rest of a zip", name="list.bin")
    with pytest.raises(BatchSourceUnreadable, match="XLSX"):
        read(b"phone\n", name="list.xlsx")


def test_the_format_is_told_by_name_type_or_first_character():
    assert read(b'[{"to": "+1"}]')[1] == [(1, {"to": "+1"}, "")]
    assert read(b"to\n+1\n", content_type="text/csv")[1] == [(2, {"to": "+1"}, "")]


# --- which addresses a file_url may reach ---------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared (carrier-grade NAT)
        ("169.254.169.254", False),  # link-local: the cloud metadata service
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4 in IPv6 clothing
        ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
    ],
)
def test_only_public_unicast_addresses_are_allowed_by_default(address, allowed):
    assert address_allowed(address, policy=FetchPolicy(max_bytes=1)) is allowed


def test_the_policy_can_allow_private_addresses_or_some_networks():
    import ipaddress

    some = FetchPolicy(max_bytes=1, allowed_networks=(ipaddress.ip_network("10.1.0.0/16"),))

    assert address_allowed("10.1.2.3", policy=some)
    assert not address_allowed("10.2.0.1", policy=some)
    assert address_allowed("127.0.0.1", policy=FetchPolicy(max_bytes=1, allow_private=True))


# --- https ---------------------------------------------------------------------------------------


@pytest.fixture
def files(monkeypatch):
    with FakeFileServer() as server:
        # The default TLS context trusts the fake's CA, as a deployment trusts an internal one.
        monkeypatch.setenv("SSL_CERT_FILE", server.ca_file())
        yield server


LOOPBACK_ONLY = FetchPolicy(max_bytes=10_000, allowed_networks=())


def test_a_file_is_fetched_over_https_when_private_addresses_are_allowed(files):
    files.files["/lists/june.csv"] = Served(b"phone\n+14155550101\n")
    policy = FetchPolicy(max_bytes=10_000, allow_private=True)

    fetched = https_fetch(files.url("/lists/june.csv?sig=1"), policy=policy)

    assert fetched.file.read() == b"phone\n+14155550101\n"
    assert (fetched.name, fetched.content_type) == ("june.csv", "text/csv")
    assert files.requests == [("/lists/june.csv?sig=1", f"127.0.0.1:{files.port}")]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_hosts_and_names_resolving_to_them_are_refused(files, host):
    files.files["/x.csv"] = Served(b"phone\n")
    with pytest.raises(BatchSourceRefused, match="private, loopback or link-local"):
        https_fetch(files.url("/x.csv", host=host), policy=LOOPBACK_ONLY)
    assert files.requests == []  # refused before any connection


def test_a_redirect_to_a_private_address_is_refused(files):
    import ipaddress

    # The first hop's address is allowed; the redirect leads to another loopback address.
    only_the_server = FetchPolicy(
        max_bytes=10_000, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),)
    )
    files.files["/start.csv"] = Served(
        status=302, location=f"https://127.0.0.2:{files.port}/inside.csv"
    )
    files.files["/hop.csv"] = Served(status=301, location="/final.csv")
    files.files["/final.csv"] = Served(b"phone\n+1\n")

    with pytest.raises(BatchSourceRefused, match="127.0.0.2"):
        https_fetch(files.url("/start.csv"), policy=only_the_server)
    assert https_fetch(files.url("/hop.csv"), policy=only_the_server).file.read() == b"phone\n+1\n"


def test_a_redirect_to_plain_http_is_refused(files):
    files.files["/start.csv"] = Served(status=302, location="http://example.com/list.csv")
    with pytest.raises(BatchSourceRefused, match="Only https"):
        https_fetch(files.url("/start.csv"), policy=FetchPolicy(max_bytes=100, allow_private=True))


def test_the_connection_goes_to_the_checked_address_not_a_new_lookup(files):
    """A name is resolved once: the connection is made to the addresses that were checked and
    TLS is verified for the name (here one that resolves nowhere)."""
    import ssl

    files.files["/x.csv"] = Served(b"ok")
    context = ssl.create_default_context()
    context.check_hostname = False  # the fake's certificate names 127.0.0.1, not the name
    context.verify_mode = ssl.CERT_NONE
    connection = _PinnedHTTPSConnection(
        "files.invalid", files.port, addresses=["127.0.0.1"], timeout=5, context=context
    )
    connection.request("GET", "/x.csv")

    assert connection.getresponse().read() == b"ok"
    assert files.requests == [("/x.csv", f"files.invalid:{files.port}")]


def test_https_size_limit_declared_or_streamed(files):
    policy = FetchPolicy(max_bytes=100, allow_private=True)
    files.files["/declared.csv"] = Served(b"x" * 101)
    files.files["/streamed.csv"] = Served(b"x" * 5000, declare_length=False)

    with pytest.raises(BatchSourceTooLarge):
        https_fetch(files.url("/declared.csv"), policy=policy)
    with pytest.raises(BatchSourceTooLarge):
        https_fetch(files.url("/streamed.csv"), policy=policy)


def test_an_http_error_or_a_certificate_we_do_not_trust_is_unavailable(files, monkeypatch):
    policy = FetchPolicy(max_bytes=100, allow_private=True)
    with pytest.raises(BatchSourceUnavailable, match="answered 404"):
        https_fetch(files.url("/missing.csv"), policy=policy)
    monkeypatch.delenv("SSL_CERT_FILE")
    files.files["/x.csv"] = Served(b"x")
    with pytest.raises(BatchSourceUnavailable, match="TLS"):
        https_fetch(files.url("/x.csv"), policy=policy)


# --- s3 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3():
    with s3_server.fake_s3() as fake:
        yield fake


def s3_config(s3, **kwargs) -> S3Config:
    return S3Config(
        access_key_id=s3_server.ACCESS_KEY_ID,
        secret_access_key=s3_server.SECRET_ACCESS_KEY,
        region=s3_server.REGION,
        endpoint_url=s3.endpoint_url,
        **kwargs,
    )


def test_an_s3_object_is_fetched_with_boto3(s3):
    s3.put("drop", "alpha/june.csv", b"phone\n+14155550101\n")

    fetched = s3_fetch(
        "s3://drop/alpha/june.csv", config=s3_config(s3), max_bytes=1000, key_prefix="alpha/"
    )

    assert fetched.file.read() == b"phone\n+14155550101\n"
    assert (fetched.name, fetched.content_type) == ("june.csv", "text/csv")


def test_s3_keys_outside_the_organizations_folder_or_bucket_list_are_refused(s3):
    s3.put("drop", "beta/list.csv", b"phone\n")
    with pytest.raises(BatchSourceRefused, match="alpha/"):
        s3_fetch("s3://drop/beta/list.csv", config=s3_config(s3), max_bytes=10, key_prefix="alpha/")
    with pytest.raises(BatchSourceRefused, match="bucket"):
        s3_fetch(
            "s3://other/alpha/list.csv",
            config=s3_config(s3, buckets=("drop",)),
            max_bytes=10,
            key_prefix="alpha/",
        )
    with pytest.raises(BatchSourceRefused, match="not configured"):
        s3_fetch("s3://drop/alpha/x.csv", config=None, max_bytes=10, key_prefix="alpha/")


def test_a_missing_or_too_large_s3_object(s3):
    s3.put("drop", "alpha/big.csv", b"x" * 200)
    with pytest.raises(BatchSourceUnavailable, match="NoSuchKey"):
        s3_fetch(
            "s3://drop/alpha/none.csv", config=s3_config(s3), max_bytes=10, key_prefix="alpha/"
        )
    with pytest.raises(BatchSourceTooLarge):
        s3_fetch(
            "s3://drop/alpha/big.csv", config=s3_config(s3), max_bytes=100, key_prefix="alpha/"
        )
