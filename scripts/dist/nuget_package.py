#!/usr/bin/env python3
"""Writes the package-level parts of the nupkg into a folder that bindings/dotnet/pack.sh laid out
(lib/TFM/ and runtimes/RID/native/): ID.nuspec, [Content_Types].xml, _rels/.rels and the core
properties, which is what `dotnet pack` adds around the same files. The metadata comes from the
csproj, the one declaration of the package; the version from Cargo.toml (given as an argument).

usage: nuget_package.py CSPROJ VERSION DIR
Prints the package's file name, ID.VERSION.nupkg.

There is no .NET SDK on the build machine (Debian ships none), so `dotnet pack` cannot run there;
this reads the plain properties a csproj declares and refuses what it cannot read faithfully
(conditions, $(...) references, package properties it does not map) instead of dropping them.
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

NUSPEC_NS = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"

# csproj property -> nuspec element, for the properties copied as text.
TEXT_PROPERTIES = {
    "Title": "title",
    "PackageProjectUrl": "projectUrl",
    "Copyright": "copyright",
    "PackageReleaseNotes": "releaseNotes",
}
# Read below with their own rules; any other Package* property is refused.
HANDLED = {"PackageId", "Version", "PackageVersion", "Authors", "Description", "PackageLicenseExpression",
           "PackageRequireLicenseAcceptance", "PackageTags", "RepositoryUrl", "RepositoryType",
           "TargetFramework", "TargetFrameworks", "AssemblyName"} | set(TEXT_PROPERTIES)


def fail(message):
    sys.exit("nuget_package.py: %s" % message)


def local(tag):
    return tag.rsplit("}", 1)[-1]


def read_project(path):
    """The csproj's unconditional properties and package references."""
    root = ET.parse(path).getroot()
    properties, references = {}, []
    for group in root:
        if local(group.tag) == "PropertyGroup":
            for prop in group:
                name = local(prop.tag)
                if name in HANDLED or name.startswith("Package"):
                    if "Condition" in group.attrib or "Condition" in prop.attrib:
                        fail("%s: %s has a Condition, which this script does not evaluate" % (path, name))
                    value = (prop.text or "").strip()
                    if "$(" in value:
                        fail("%s: %s refers to another property (%s)" % (path, name, value))
                    properties[name] = value
        elif local(group.tag) == "ItemGroup":
            for item in group:
                if local(item.tag) != "PackageReference":
                    continue
                if item.get("PrivateAssets", "").lower() == "all":
                    continue  # a build-time tool, not a dependency of the package
                if not item.get("Version") or "Condition" in item.attrib or "Condition" in group.attrib:
                    fail("%s: PackageReference %s needs a plain Version and no Condition" % (path, item.get("Include")))
                references.append((item.get("Include"), item.get("Version")))
    unknown = sorted(n for n in properties if n.startswith("Package") and n not in HANDLED)
    if unknown:
        fail("%s: %s not mapped to the nuspec; teach scripts/dist/nuget_package.py" % (path, ", ".join(unknown)))
    return properties, references


def framework_name(tfm):
    """NuGet's name for a target framework folder, as the nuspec's dependency groups spell it."""
    if tfm.startswith("netstandard"):
        return ".NETStandard" + tfm[len("netstandard"):]
    if tfm.startswith("net") and tfm[3:].isdigit():
        return ".NETFramework" + ".".join(tfm[3:])
    if tfm.startswith("net") and "." in tfm:
        return tfm
    fail("unknown target framework folder lib/%s" % tfm)


def nuspec(meta, frameworks, references):
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<package xmlns="%s">' % NUSPEC_NS, "  <metadata>"]
    add = lambda element, text: lines.append("    <%s>%s</%s>" % (element, escape(text), element))
    add("id", meta["id"])
    add("version", meta["version"])
    if "Title" in meta["properties"]:
        add("title", meta["properties"]["Title"])
    add("authors", meta["authors"])
    add("requireLicenseAcceptance", meta["requireLicenseAcceptance"])
    license = meta["properties"].get("PackageLicenseExpression")
    if license:
        lines.append('    <license type="expression">%s</license>' % escape(license))
        # What dotnet pack writes for clients older than the license element (NuGet < 4.9).
        add("licenseUrl", "https://licenses.nuget.org/" + license)
    for prop, element in TEXT_PROPERTIES.items():
        if prop != "Title" and prop in meta["properties"]:
            add(element, meta["properties"][prop])
    add("description", meta["description"])
    if meta["tags"]:
        add("tags", meta["tags"])
    url = meta["properties"].get("RepositoryUrl")
    if url:
        kind = meta["properties"].get("RepositoryType", "git")
        lines.append("    <repository type=%s url=%s />" % (quoteattr(kind), quoteattr(url)))
    lines.append("    <dependencies>")
    for tfm in frameworks:
        if not references:
            lines.append("      <group targetFramework=%s />" % quoteattr(framework_name(tfm)))
            continue
        lines.append("      <group targetFramework=%s>" % quoteattr(framework_name(tfm)))
        for name, version in references:
            lines.append('        <dependency id=%s version=%s exclude="Build,Analyzers" />'
                         % (quoteattr(name), quoteattr(version)))
        lines.append("      </group>")
    lines += ["    </dependencies>", "  </metadata>", "</package>", ""]
    return "\n".join(lines)


def core_properties(meta):
    return "\n".join([
        '<?xml version="1.0" encoding="utf-8"?>',
        '<coreProperties xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns="http://schemas.openxmlformats.org/package/2006/metadata/core-properties">',
        "  <dc:creator>%s</dc:creator>" % escape(meta["authors"]),
        "  <dc:description>%s</dc:description>" % escape(meta["description"]),
        "  <dc:identifier>%s</dc:identifier>" % escape(meta["id"]),
        "  <version>%s</version>" % escape(meta["version"]),
        "  <keywords>%s</keywords>" % escape(meta["tags"]),
        "  <lastModifiedBy>scripts/dist.sh</lastModifiedBy>",
        "</coreProperties>", ""])


def relationships(nuspec_name, core_name):
    return "\n".join([
        '<?xml version="1.0" encoding="utf-8"?>',
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">',
        '  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/%s" Id="R1" />'
        % escape(nuspec_name),
        '  <Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
        'core-properties" Target="/%s" Id="R2" />' % escape(core_name),
        "</Relationships>", ""])


def content_types(parts):
    """One Default per extension among the parts: OPC readers refuse a part whose type is unknown."""
    special = {"rels": "application/vnd.openxmlformats-package.relationships+xml",
               "psmdcp": "application/vnd.openxmlformats-package.core-properties+xml"}
    extensions = set()
    for part in parts:
        name = part.rsplit("/", 1)[-1]
        if "." not in name:
            fail("part %s has no extension, so [Content_Types].xml cannot type it" % part)
        extensions.add(name.rsplit(".", 1)[1].lower())
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">']
    for ext in sorted(extensions):
        lines.append('  <Default Extension=%s ContentType=%s />'
                     % (quoteattr(ext), quoteattr(special.get(ext, "application/octet"))))
    lines += ["</Types>", ""]
    return "\n".join(lines)


def main():
    if len(sys.argv) != 4:
        fail("usage: nuget_package.py CSPROJ VERSION DIR")
    csproj, version, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    properties, references = read_project(csproj)
    declared = properties.get("PackageVersion") or properties.get("Version")
    if declared and declared != version:
        fail("%s declares version %s, Cargo.toml %s: the csproj must follow Cargo.toml" % (csproj, declared, version))
    assembly = properties.get("AssemblyName") or csproj.stem
    description = properties.get("Description")
    if not description:
        fail("%s has no Description (dotnet pack would write \"Package Description\")" % csproj)
    meta = {
        "properties": properties,
        # dotnet pack's defaults for the two it can infer.
        "id": properties.get("PackageId") or assembly,
        "authors": properties.get("Authors") or assembly,
        "version": version,
        "description": description,
        "requireLicenseAcceptance": properties.get("PackageRequireLicenseAcceptance", "false").lower(),
        "tags": " ".join(t for t in properties.get("PackageTags", "").replace(";", " ").split()),
    }
    declared_tfms = properties.get("TargetFrameworks") or properties.get("TargetFramework") or ""
    declared_tfms = sorted(t.strip() for t in declared_tfms.split(";") if t.strip())
    frameworks = sorted(p.name for p in (out / "lib").iterdir() if p.is_dir()) if (out / "lib").is_dir() else []
    if frameworks != declared_tfms:
        fail("%s/lib holds %s but %s targets %s" % (out, frameworks, csproj, declared_tfms))

    nuspec_name = meta["id"] + ".nuspec"
    core_name = "package/services/metadata/core-properties/%s.psmdcp" % meta["id"].lower()
    (out / nuspec_name).write_text(nuspec(meta, frameworks, references))
    (out / "_rels").mkdir(exist_ok=True)
    (out / "_rels" / ".rels").write_text(relationships(nuspec_name, core_name))
    (out / core_name).parent.mkdir(parents=True, exist_ok=True)
    (out / core_name).write_text(core_properties(meta))
    parts = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    parts = [p for p in parts if p != "[Content_Types].xml"]  # the one file that is not a part
    (out / "[Content_Types].xml").write_text(content_types(parts))
    print("%s.%s.nupkg" % (meta["id"], version))


main()
