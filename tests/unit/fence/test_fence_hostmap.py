"""`<METHOD>.hosts` parsing: strict, with file:line errors."""
import pytest

from halizard.fence import hostmap

H1 = "11111111-2222-3333-4444-555555555555"
H2 = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
V1 = "99999999-8888-7777-6666-555555555555"


def write(tmp_path, text, method="XVM"):
    folder = tmp_path / method
    folder.mkdir(exist_ok=True)
    path = folder / (method + ".hosts")
    path.write_text(text)
    return str(path)


def test_parses_lines_comments_blank_and_crlf(tmp_path):
    path = write(tmp_path, "# pool hosts\n\n%s:%s\r\n  %s:127.0.0.9  \n" % (H1, V1, H2.upper()))
    assert hostmap.load(path) == {H1: V1, H2: "127.0.0.9"}
    assert hostmap.lookup(path, H2.upper()) == "127.0.0.9"


def test_value_keeps_colons_after_the_first(tmp_path):
    path = write(tmp_path, "%s:::1\n" % H1)
    assert hostmap.lookup(path, H1) == "::1"


@pytest.mark.parametrize("line, reason", [
    ("no-colon-here", "no ':'"),
    ("not-a-uuid:%s" % V1, "not a host UUID"),
    ("%s:" % H1, "empty value"),
    ("%s:a b" % H1, "whitespace"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, reason):
    path = write(tmp_path, "%s:%s\n%s\n" % (H2, V1, line))
    with pytest.raises(hostmap.HostMapError) as err:
        hostmap.load(path)
    assert "%s:2:" % path in str(err.value) and reason in str(err.value)


def test_duplicate_host_is_an_error(tmp_path):
    path = write(tmp_path, "%s:%s\n%s:%s\n" % (H1, V1, H1, V1))
    with pytest.raises(hostmap.HostMapError, match=":2: host .* twice"):
        hostmap.load(path)


def test_validator_rejects_values(tmp_path):
    path = write(tmp_path, "%s:127.0.0.1\n" % H1)
    with pytest.raises(hostmap.HostMapError, match="not a VM UUID"):
        hostmap.load(path, hostmap.validate_uuid_value)


def test_unknown_host_and_missing_file(tmp_path):
    path = write(tmp_path, "%s:%s\n" % (H1, V1))
    with pytest.raises(hostmap.HostMapError, match="not listed in"):
        hostmap.lookup(path, H2)
    with pytest.raises(hostmap.HostMapError, match="cannot read"):
        hostmap.load(str(tmp_path / "missing.hosts"))


def test_not_utf8_and_not_regular(tmp_path):
    folder = tmp_path / "XVM"
    folder.mkdir()
    (folder / "XVM.hosts").write_bytes(b"# ok\n\xff\xfe\n")
    with pytest.raises(hostmap.HostMapError, match=":2: not valid UTF-8"):
        hostmap.load(str(folder / "XVM.hosts"))
    with pytest.raises(hostmap.HostMapError, match="not a regular file"):
        hostmap.load(str(folder))


@pytest.mark.parametrize("method", ["../X", "X/Y", "", "A B", "X\n"])
def test_map_path_refuses_path_tricks(tmp_path, method):
    with pytest.raises(hostmap.HostMapError, match="invalid fence method"):
        hostmap.map_path(str(tmp_path), method)


def test_map_path_layout(tmp_path):
    assert hostmap.map_path("/etc/ha-lizard/fence", "ILO") == "/etc/ha-lizard/fence/ILO/ILO.hosts"
