import hashlib
import io
import json
import tarfile

import pytest
from click.testing import CliRunner

from provisioning import ota_build
from provisioning.cli import cli
from provisioning.ota_build import BuildError, check_manifest, read_build, write_build


def entry(path="vafa/app.py", content=b"x = 1\n"):
    return {"path": path, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def manifest(**change):
    data = {"format": 1, "version": "0.3.1", "kind": "py", "files": [entry()]}
    data.update(change)
    return data


def test_a_good_manifest_passes():
    check_manifest(manifest())


@pytest.mark.parametrize(("data", "problem"), [
    ([], "not a JSON object"),
    ({**manifest(), "extra": 1}, "exactly the keys"),
    (manifest(format=2), "format"),
    (manifest(version="0.3 1"), "version"),
    (manifest(version="x" * 25), "version"),
    (manifest(kind="elf"), "kind"),
    (manifest(files=[]), "no files"),
    (manifest(files=[entry(f"vafa/m{i}.py") for i in range(65)]), "at most 64"),
    (manifest(files=[entry("../boot.py")]), "relative"),
    (manifest(files=[entry("/vafa/app.py")]), "relative"),
    (manifest(files=[entry("vafa//app.py")]), "relative"),
    (manifest(files=[entry("vafa/ä.py")]), "only A-Z"),
    (manifest(files=[entry("v/" + "a" * 63)]), "1–64"),
    (manifest(files=[entry("main.py")]), "never part of a build"),
    (manifest(files=[entry("config.json")]), "never part of a build"),
    (manifest(files=[entry(), entry()]), "listed twice"),
    (manifest(files=[{**entry(), "size": 96 * 1024 + 1}]), "size"),
    (manifest(files=[{**entry(), "size": True}]), "size"),
    (manifest(files=[{**entry(), "sha256": "AB" * 32}]), "sha256"),
    (manifest(files=[{**entry(f"vafa/m{i}.py"), "size": 90 * 1024} for i in range(6)]),
     "at most 524288"),
])
def test_a_bad_manifest_is_refused_with_the_reason(data, problem):
    with pytest.raises(BuildError, match=problem):
        check_manifest(data)


def test_write_then_read_gives_the_same_bytes(tmp_path):
    files = {"vafa/app.py": b"A = 1\n", "vafa/lang/fa.json": b"{}"}
    raw = write_build(tmp_path / "b.tar", files, version="1.0.0", kind="py")
    assert json.loads(raw)["files"][0] == entry("vafa/app.py", b"A = 1\n")
    # Compact, sorted keys: the exact bytes the sha256 names.
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    got_raw, got = read_build(tmp_path / "b.tar")
    assert (got_raw, got) == (raw, files)
    with tarfile.open(tmp_path / "b.tar") as tar:
        assert tar.getnames() == ["manifest.json", "files/vafa/app.py",
                                  "files/vafa/lang/fa.json"]


def test_a_refused_build_leaves_no_file(tmp_path):
    with pytest.raises(BuildError):
        write_build(tmp_path / "b.tar", {"main.py": b""}, version="1", kind="py")
    assert list(tmp_path.iterdir()) == []


def tar_of(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


@pytest.mark.parametrize(("members", "problem"), [
    ([], "empty"),
    ([("files/vafa/app.py", b"x = 1\n"), ("manifest.json", b"{}")], "first member"),
    ([("manifest.json", b"{nope")], "not JSON"),
    ([("manifest.json", ota_build.manifest_bytes(manifest()))], "missing vafa/app.py"),
    ([("manifest.json", ota_build.manifest_bytes(manifest())),
      ("files/vafa/app.py", b"x = 2\n")], "SHA-256 differs"),
    ([("manifest.json", ota_build.manifest_bytes(manifest())),
      ("files/vafa/app.py", b"x = 10\n")], "bytes, the manifest says"),
    ([("manifest.json", ota_build.manifest_bytes(manifest())),
      ("files/vafa/app.py", b"x = 1\n"), ("files/vafa/evil.py", b"")], "not listed"),
    ([("manifest.json", ota_build.manifest_bytes(manifest())), ("other", b"")], "not under"),
])
def test_a_bad_tar_is_refused_with_the_reason(tmp_path, members, problem):
    path = tmp_path / "b.tar"
    path.write_bytes(tar_of(members))
    with pytest.raises(BuildError, match=problem):
        read_build(path)


def test_a_compressed_tar_is_refused(tmp_path):
    path = tmp_path / "b.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("manifest.json"), io.BytesIO(b""))
    with pytest.raises(BuildError, match="uncompressed"):
        read_build(path)


def test_the_source_build_of_the_repo_holds_the_sources_without_the_loader(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--source", "--version", "9.9.1", "--out",
                                      str(tmp_path / "b.tar"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    raw, files = read_build(tmp_path / "b.tar")
    assert report["manifest_sha256"] == hashlib.sha256(raw).hexdigest()
    assert report["kind"] == "py" and report["version"] == "9.9.1"
    assert files["vafa/version.py"] == b'VERSION = "9.9.1"\n'
    assert "vafa/start.py" in files and "vafa/app.py" in files
    assert "main.py" not in files and "config.json" not in files
    assert any(name.endswith(".vft") for name in files)


def test_the_mpy_build_holds_compiled_modules(tmp_path):
    raw = ota_build.make_build(tmp_path / "b.tar", version="9.9.3")
    _raw, files = read_build(tmp_path / "b.tar")
    assert json.loads(raw)["kind"] == "mpy"
    assert "vafa/app.mpy" in files and "vafa/version.mpy" in files
    assert files["vafa/app.mpy"][:1] == b"M"  # the .mpy header
    assert not any(name.endswith(".py") for name in files)


def test_a_bad_version_is_refused_by_the_command(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--version", "1 2", "--out",
                                      str(tmp_path / "b.tar")])
    assert result.exit_code != 0 and "version" in result.output
    assert not (tmp_path / "b.tar").exists()
