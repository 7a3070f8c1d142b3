#!/usr/bin/env python3
"""Checks what scripts/dist.sh put into dist/: every artifact's layout, versions, tags and the
glibc floor of the Linux binaries. The install tests (scripts/test-install.sh) then use them.

usage: check_artifacts.py DIST_DIR VERSION
Prints one line per check; exits 1 if any failed.
"""

import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

# The documented floor (README "Install"): the Linux binaries need nothing newer than this.
GLIBC_FLOOR = (2, 17)

dist = Path(sys.argv[1])
version = sys.argv[2]
# The rule scripts/dist.sh applies: 0.x releases each break the ABI, so 0.3.x is libmikrobill.so.0.3.
major, minor = version.split(".")[:2]
soname = "libmikrobill.so." + ("%s.%s" % (major, minor) if major == "0" else major)
failures = []


def check(ok, what):
    print("%s  %s" % ("ok    " if ok else "FAILED", what))
    if not ok:
        failures.append(what)


def glibc_versions(data):
    """The GLIBC_x.y versions an ELF image's dynamic symbols need, read by objdump -T."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["objdump", "-T", f.name], check=True, capture_output=True, text=True).stdout
    return {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9]+(?:\.[0-9]+)+)", out)}


def elf_header(data, option):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return subprocess.run(["objdump", option, f.name], check=True, capture_output=True, text=True).stdout


def check_elf(name, data):
    needed = glibc_versions(data)
    top = max(needed) if needed else (0,)
    check(bool(needed) and top <= GLIBC_FLOOR,
          "%s needs glibc %s (floor %s)" % (name, ".".join(map(str, top)), ".".join(map(str, GLIBC_FLOOR))))


def header_functions(text):
    """The functions a C header declares: mb_NAME( outside comments."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
    return set(re.findall(r"\b(mb_[a-z_]+)\s*\(", text))


def check_pe_dll(name, data):
    head = elf_header(data, "-p")
    exports = set(re.findall(r"\]\s+(mb_[a-z_]+)", head))
    check("pei-x86-64" in elf_header(data, "-f") and wanted and wanted <= exports,
          "%s is an x86-64 PE exporting the header's %d functions" % (name, len(wanted)))


# --- Linux tarball
top = "mikrobill-%s-linux-x86_64" % version
with tarfile.open(dist / ("%s.tar.gz" % top)) as tar:
    members = {m.name: m for m in tar.getmembers()}
    for path in ["bin/mb", "bin/mikrobill-sim", "bin/mikrobill-gateway", "share/gateway/gateway.example.toml",
                 "share/gateway/mikrobill-gateway.service", "lib/libmikrobill.so.%s" % version, "lib/libmikrobill.a",
                 "lib/pkgconfig/mikrobill.pc", "include/mikrobill.h", "share/php/mikrobill/apicore.php",
                 "share/php/mikrobill/preload.php", "share/php/mikrobill/ini.php",
                 "share/mikrobill/deploy/nginx-kassa.conf", "share/mikrobill/deploy/apache-kassa.conf",
                 "share/mikrobill/deploy/htaccess", "LICENSE", "INSTALL", "CHANGELOG.md"]:
        check("%s/%s" % (top, path) in members, "tarball has %s" % path)
    so_link = members.get("%s/lib/%s" % (top, soname))
    so = members.get("%s/lib/libmikrobill.so" % top)
    check(so_link is not None and so_link.issym() and so_link.linkname == "libmikrobill.so.%s" % version,
          "tarball: %s -> libmikrobill.so.%s" % (soname, version))
    check(so is not None and so.issym() and so.linkname == soname, "tarball: libmikrobill.so -> %s" % soname)
    check(all(m.uid == 0 and m.gid == 0 for m in members.values()), "tarball: files owned by root")
    # Every binary below must export what the shipped header declares.
    wanted = header_functions(tar.extractfile("%s/include/mikrobill.h" % top).read().decode())
    check(len(wanted) > 0, "the header declares %d functions" % len(wanted))
    library = tar.extractfile("%s/lib/libmikrobill.so.%s" % (top, version)).read()
    sonames = re.findall(r"^\s*SONAME\s+(\S+)$", elf_header(library, "-p"), re.M)
    check(sonames == [soname], "shared library SONAME is %s (found %s)" % (soname, sonames))
    exported = set(re.findall(r"\s(mb_[a-z_]+)$", elf_header(library, "-T"), re.M))
    check(wanted <= exported, "shared library exports the header's functions (missing: %s)"
          % sorted(wanted - exported))
    check_elf("libmikrobill.so", library)
    license_text = tar.extractfile("%s/LICENSE" % top).read().decode()
    for exe in ("mb", "mikrobill-sim", "mikrobill-gateway"):
        check_elf(exe, tar.extractfile("%s/bin/%s" % (top, exe)).read())
    pc = tar.extractfile("%s/lib/pkgconfig/mikrobill.pc" % top).read().decode()
    check("Version: %s\n" % version in pc and "prefix=${pcfiledir}/../.." in pc,
          "tarball mikrobill.pc: version %s, relocatable prefix" % version)
    # No static libgcc_s exists: naming it makes `cc -static $(pkg-config --static ...)` fail
    # (scripts/test-install.sh links that way).
    install_text = tar.extractfile("%s/INSTALL" % top).read().decode()
    check(re.search(r"@[A-Z]+@", install_text) is None and soname in install_text,
          "tarball INSTALL: every placeholder filled, names %s" % soname)
    private = re.findall(r"^Libs\.private:(.*)$", pc, re.M)
    check(len(private) == 1 and "-lgcc_s" not in private[0].split(),
          "tarball mikrobill.pc: Libs.private does not name -lgcc_s: %s" % private)

# --- Windows zip
top = "mikrobill-%s-windows-x86_64" % version
with zipfile.ZipFile(dist / ("%s.zip" % top)) as z:
    names = set(z.namelist())
    for path in ["bin/mikrobill.dll", "bin/mb.exe", "bin/mikrobill-sim.exe", "bin/mikrobill-gateway.exe",
                 "gateway/gateway.example.toml", "lib/libmikrobill.dll.a",
                 "include/mikrobill.h", "php/apicore.php", "php/preload.php", "php/ini.php", "php/mikrobill.h",
                 "php/mikrobill.ini", "deploy/nginx-kassa.conf", "deploy/apache-kassa.conf", "deploy/htaccess",
                 "LICENSE", "INSTALL.txt"]:
        check("%s/%s" % (top, path) in names, "zip has %s" % path)
    # Windows has no opcache.preload: its ini enables FFI itself, and says what that opens.
    ini = z.read("%s/php/mikrobill.ini" % top).decode()
    settings = [line for line in ini.split("\r\n") if line and not line.startswith(";")]
    check(settings == ["extension=ffi", "ffi.enable=1"] and "\n" not in ini.replace("\r\n", ""),
          "zip php/mikrobill.ini loads FFI for every script, CRLF: %s" % settings)
    check_pe_dll("mikrobill.dll", z.read("%s/bin/mikrobill.dll" % top))
    check(b"\r\n" in z.read("%s/INSTALL.txt" % top), "zip INSTALL.txt has Windows line ends")

# --- .deb
deb = dist / ("mikrobill_%s_amd64.deb" % version)
field = lambda name: subprocess.run(["dpkg-deb", "-f", str(deb), name], check=True, capture_output=True,
                                    text=True).stdout.strip()
check(field("Package") == "mikrobill" and field("Version") == version and field("Architecture") == "amd64",
      ".deb control: mikrobill %s amd64" % version)
check(field("Depends") == "libc6 (>= %d.%d), adduser, ucf" % GLIBC_FLOOR,
      ".deb depends on libc6 >= the glibc floor, adduser for the gateway's user and ucf for the PHP ini")
# The maintainer of record is the copyright holder LICENSE names.
holder = re.search(r"^Copyright \(c\) [0-9]+ (.+)$", license_text, re.M)
check(holder is not None and field("Maintainer") == holder.group(1),
      ".deb Maintainer is LICENSE's copyright holder: %s" % field("Maintainer"))
listing = subprocess.run(["dpkg-deb", "-c", str(deb)], check=True, capture_output=True, text=True).stdout
for path in ["./usr/lib/x86_64-linux-gnu/libmikrobill.so.%s" % version,
             "./usr/lib/x86_64-linux-gnu/%s -> libmikrobill.so.%s" % (soname, version),
             "./usr/lib/x86_64-linux-gnu/libmikrobill.so -> %s" % soname,
             "./usr/lib/x86_64-linux-gnu/libmikrobill.a", "./usr/lib/x86_64-linux-gnu/pkgconfig/mikrobill.pc",
             "./usr/include/mikrobill.h", "./usr/bin/mb", "./usr/bin/mikrobill-sim", "./usr/bin/mikrobill-gateway",
             "./lib/systemd/system/mikrobill-gateway.service",
             "./usr/share/doc/mikrobill/gateway/gateway.example.toml",
             "./usr/share/php/mikrobill/apicore.php", "./usr/share/php/mikrobill/ini.php",
             "./usr/share/mikrobill/deploy/mikrobill.ini", "./usr/share/mikrobill/deploy/nginx-kassa.conf",
             "./usr/share/mikrobill/deploy/apache-kassa.conf", "./usr/share/mikrobill/deploy/htaccess",
             "./usr/share/doc/mikrobill/copyright"]:
    check(re.search(r" %s$" % re.escape(path), listing, re.M) is not None, ".deb has %s" % path)
# The ini preloads the installed shim; postinst offers it to phpenmod at this priority.
deb_ini = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
with tarfile.open(fileobj=io.BytesIO(deb_ini)) as deb_tar:
    deb_ini = deb_tar.extractfile("./usr/share/mikrobill/deploy/mikrobill.ini").read().decode()
check(deb_ini.startswith("; priority=90\n")
      and "\nopcache.preload=/usr/share/php/mikrobill/preload.php\n" in deb_ini
      and "\nffi.enable=preload\n" in deb_ini,
      ".deb mikrobill.ini preloads /usr/share/php/mikrobill/preload.php, priority 90")
check(all(" root/root " in line for line in listing.splitlines()), ".deb: files owned by root")

# --- Composer package
with zipfile.ZipFile(dist / "composer" / ("mikrobill-apicore-%s.zip" % version)) as z:
    names = set(z.namelist())
    manifest = json.loads(z.read("composer.json"))
    check(manifest.get("name") == "mikrobill/apicore" and manifest.get("version") == version,
          "composer.json: mikrobill/apicore %s" % version)
    check(manifest.get("autoload", {}).get("files") == ["apicore.php"], "composer.json autoloads apicore.php")
    for path in ["apicore.php", "preload.php", "ini.php", "deploy/nginx-kassa.conf", "deploy/apache-kassa.conf",
                 "deploy/htaccess", "include/mikrobill.h", "native/linux-x86_64/libmikrobill.so",
                 "native/windows-x86_64/mikrobill.dll", "LICENSE"]:
        check(path in names, "Composer package has %s" % path)
    check_elf("Composer's libmikrobill.so", z.read("native/linux-x86_64/libmikrobill.so"))
    check_pe_dll("Composer's mikrobill.dll", z.read("native/windows-x86_64/mikrobill.dll"))

# --- Python wheels
for platform, library in (("manylinux2014_x86_64", "libmikrobill.so"), ("win_amd64", "mikrobill.dll")):
    wheel = dist / "python" / ("mikrobill-%s-py3-none-%s.whl" % (version, platform))
    check(wheel.exists(), "%s exists" % wheel.name)
    if not wheel.exists():
        continue
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = "mikrobill-%s.dist-info" % version
        meta = z.read("%s/WHEEL" % info).decode()
        check("Tag: py3-none-%s\n" % platform in meta and "Root-Is-Purelib: false" in meta,
              "%s: tag py3-none-%s, platlib" % (wheel.name, platform))
        check("Version: %s\n" % version in z.read("%s/METADATA" % info).decode(), "%s: metadata version" % wheel.name)
        for path in ["mikrobill/__init__.py", "mikrobill/_loader.py", "mikrobill/py.typed", "mikrobill/" + library]:
            check(path in names, "%s has %s" % (wheel.name, path))
        other = "mikrobill.dll" if library != "mikrobill.dll" else "libmikrobill.so"
        check("mikrobill/" + other not in names, "%s has no %s" % (wheel.name, other))
        if platform.startswith("manylinux"):
            check_elf("the wheel's libmikrobill.so", z.read("mikrobill/libmikrobill.so"))
        else:
            check_pe_dll("the wheel's mikrobill.dll", z.read("mikrobill/mikrobill.dll"))

# --- NuGet package (the layout NuGet documents: nuspec at the root, OPC parts)
with zipfile.ZipFile(dist / "nuget" / ("MikroBILL.%s.nupkg" % version)) as z:
    names = set(z.namelist())
    for path in ["MikroBILL.nuspec", "[Content_Types].xml", "_rels/.rels", "lib/netstandard2.0/MikroBILL.dll",
                 "runtimes/linux-x64/native/libmikrobill.so", "runtimes/win-x64/native/mikrobill.dll"]:
        check(path in names, "nupkg has %s" % path)
    ns = {"n": "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"}
    nuspec = ET.fromstring(z.read("MikroBILL.nuspec"))
    check(nuspec.findtext("n:metadata/n:id", namespaces=ns) == "MikroBILL"
          and nuspec.findtext("n:metadata/n:version", namespaces=ns) == version
          and nuspec.findtext("n:metadata/n:license", namespaces=ns) == "MIT",
          "nuspec: MikroBILL %s, license MIT" % version)
    types = ET.fromstring(z.read("[Content_Types].xml"))
    extensions = {d.get("Extension") for d in types}
    parts = names - {"[Content_Types].xml"}  # the one file that is not a part
    needed = {n.rsplit(".", 1)[1].lower() for n in parts if "." in n.rsplit("/", 1)[-1]}
    check(needed <= extensions, "[Content_Types].xml covers every part's extension: %s" % sorted(needed))
    rels = ET.fromstring(z.read("_rels/.rels"))
    targets = {r.get("Type").rsplit("/", 1)[-1]: r.get("Target").lstrip("/") for r in rels}
    check(targets.get("manifest") == "MikroBILL.nuspec" and targets.get("core-properties") in names,
          "_rels/.rels points at the nuspec and the core properties")
    assembly = z.read("lib/netstandard2.0/MikroBILL.dll")
    check(assembly[:2] == b"MZ" and b"MikroBILL_API" in assembly, "lib/netstandard2.0/MikroBILL.dll is the assembly")
    check_elf("the nupkg's libmikrobill.so", z.read("runtimes/linux-x64/native/libmikrobill.so"))
    check_pe_dll("the nupkg's mikrobill.dll", z.read("runtimes/win-x64/native/mikrobill.dll"))

sums = (dist / "SHA256SUMS").read_text().splitlines()
check(len(sums) == 7, "SHA256SUMS lists the 7 artifacts")
print("%d checks failed" % len(failures))
sys.exit(1 if failures else 0)
