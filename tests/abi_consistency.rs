//! One source for error codes and for the version, checked. `enum mb_code` in src/error.rs is
//! the source of the codes: the generated header and each binding's named constants must hold
//! exactly its names and numbers. The workspace version in Cargo.toml is the source of the
//! version: every manifest must carry it, and each binding's library check must accept exactly
//! its major.minor series. Every binding builds the error JSON it makes itself through one
//! helper, so the `return` key is written in one place per binding.

use std::collections::BTreeMap;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The lines of `text` after the first line containing `start`, up to the first line (after
/// it) that, trimmed, starts with `end`.
fn block<'a>(text: &'a str, start: &str, end: &str, what: &str) -> Vec<&'a str> {
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|line| line.contains(start))
        .unwrap_or_else(|| panic!("{what}: no line with {start:?}"));
    let body: Vec<&str> = lines.take_while(|l| !l.trim().starts_with(end)).collect();
    assert!(!body.is_empty(), "{what}: empty block after {start:?}");
    body
}

/// `NAME = NUMBER` pairs from `lines`, after removing `prefix` and the trailing `suffix`
/// (`,` or `;`); comments and blank lines are skipped, anything else is a parse failure, so a
/// table this test cannot read fails instead of passing empty.
fn pairs(lines: &[&str], prefix: &str, suffix: &str, what: &str) -> BTreeMap<String, i64> {
    let mut table = BTreeMap::new();
    for raw in lines {
        let line = raw.trim();
        if line.is_empty()
            || line.starts_with("//")
            || line.starts_with("/*")
            || line.starts_with('*')
            || line.starts_with("///")
            || line.starts_with('#')
            || line.starts_with('"')
        {
            continue;
        }
        let entry = line
            .strip_prefix(prefix)
            .and_then(|l| l.strip_suffix(suffix))
            .unwrap_or_else(|| panic!("{what}: cannot read {line:?}"));
        let (name, value) = entry
            .split_once('=')
            .unwrap_or_else(|| panic!("{what}: no '=' in {line:?}"));
        let value: i64 = value
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{what}: {line:?}: {e}"));
        let name = name.trim().to_string();
        assert!(
            table.insert(name.clone(), value).is_none(),
            "{what}: {name} twice"
        );
    }
    table
}

/// The source: `enum mb_code` in src/error.rs, names without the `MB_` prefix.
fn source_codes() -> BTreeMap<String, i64> {
    let text = read("src/error.rs");
    let lines = block(&text, "pub enum mb_code {", "}", "src/error.rs");
    pairs(&lines, "MB_", ",", "src/error.rs")
}

/// "KEY2_ROW_MISSING" as .NET names it: "Key2RowMissing".
fn pascal(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn assert_same(source: &BTreeMap<String, i64>, other: &BTreeMap<String, i64>, what: &str) {
    let missing: Vec<_> = source.keys().filter(|k| !other.contains_key(*k)).collect();
    let extra: Vec<_> = other.keys().filter(|k| !source.contains_key(*k)).collect();
    let differing: Vec<_> = source
        .iter()
        .filter_map(|(k, v)| other.get(k).filter(|o| *o != v).map(|o| (k, v, o)))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differing.is_empty(),
        "{what} differs from enum mb_code in src/error.rs: missing {missing:?}, not in the enum \
         {extra:?}, other numbers (name, enum, {what}) {differing:?}"
    );
}

#[test]
fn the_source_enum_is_read_and_matches_the_rust_constants() {
    let codes = source_codes();
    assert_eq!(codes["OK"], mikrobill::code::OK);
    assert_eq!(codes["INVALID_ARGUMENT"], mikrobill::code::INVALID_ARGUMENT);
    assert_eq!(codes["CLOSED_HANDLE"], mikrobill::code::CLOSED_HANDLE);
    assert_eq!(codes["INTERNAL"], mikrobill::code::INTERNAL);
    assert!(codes.len() >= 13, "{codes:?}");
}

/// `text` without its C block comments.
fn without_block_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("unterminated comment") + start + 2;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_header_holds_the_enum() {
    let text = without_block_comments(&read("include/mikrobill.h"));
    let lines = block(&text, "typedef enum mb_code {", "}", "include/mikrobill.h");
    let header = pairs(&lines, "MB_", ",", "include/mikrobill.h");
    assert_same(&source_codes(), &header, "include/mikrobill.h");
}

#[test]
fn php_names_every_code() {
    let text = read("bindings/php/apicore.php");
    let lines = block(&text, "final class MikroBILL_Code", "}", "apicore.php");
    let lines: Vec<&str> = lines.into_iter().filter(|l| l.trim() != "{").collect();
    let php = pairs(&lines, "const ", ";", "apicore.php MikroBILL_Code");
    assert_same(&source_codes(), &php, "PHP MikroBILL_Code");
}

#[test]
fn python_names_every_code() {
    let text = read("bindings/python/src/mikrobill/errors.py");
    let lines = block(&text, "class Code(IntEnum):", "def ", "errors.py");
    // The class docstring ends where the table starts.
    let start = lines
        .iter()
        .rposition(|l| l.trim().ends_with("\"\"\""))
        .expect("Code has a docstring");
    let python = pairs(&lines[start + 1..], "", "", "errors.py Code");
    assert_same(&source_codes(), &python, "Python Code");
}

#[test]
fn dotnet_names_every_code() {
    let text = read("bindings/dotnet/src/MikroBILLCode.cs");
    let lines = block(
        &text,
        "public static class MikroBILLCode",
        "}",
        "MikroBILLCode.cs",
    );
    let lines: Vec<&str> = lines.into_iter().filter(|l| l.trim() != "{").collect();
    let dotnet = pairs(&lines, "public const long ", ";", "MikroBILLCode.cs");
    let expected = source_codes()
        .into_iter()
        .map(|(name, value)| (pascal(&name), value))
        .collect();
    assert_same(&expected, &dotnet, ".NET MikroBILLCode");
}

#[test]
fn pascal_case_follows_dotnet_naming() {
    assert_eq!(pascal("KEY2_ROW_MISSING"), "Key2RowMissing");
    assert_eq!(pascal("OK"), "Ok");
}

/// The text between the first `open` after `anchor` and the next `close`.
fn value_after(text: &str, anchor: &str, open: &str, close: &str, what: &str) -> String {
    let from = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{what}: no {anchor:?}"));
    let rest = &text[from + anchor.len()..];
    let start = rest
        .find(open)
        .unwrap_or_else(|| panic!("{what}: no {open:?} after {anchor:?}"))
        + open.len();
    let end = rest[start..]
        .find(close)
        .unwrap_or_else(|| panic!("{what}: unterminated value after {anchor:?}"));
    rest[start..start + end].to_string()
}

fn workspace_version() -> String {
    let cargo = read("Cargo.toml");
    let section = &cargo[cargo
        .find("[workspace.package]")
        .expect("Cargo.toml has [workspace.package]")..];
    value_after(section, "\nversion", "\"", "\"", "[workspace.package]")
}

/// The series a binding must accept: "0.MINOR." before 1.0 (every minor may break), then
/// "MAJOR.".
fn compatible_prefix(version: &str) -> String {
    let mut parts = version.split('.');
    let major = parts.next().unwrap();
    let minor = parts.next().expect("version has a minor number");
    if major == "0" {
        format!("0.{minor}.")
    } else {
        format!("{major}.")
    }
}

#[test]
fn every_manifest_carries_the_workspace_version() {
    let version = workspace_version();
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "the library's own version"
    );
    for crate_manifest in ["Cargo.toml", "sim/Cargo.toml", "cli/Cargo.toml"] {
        let text = read(crate_manifest);
        let package = &text[text.find("[package]").expect("[package]")..];
        assert!(
            package.contains("version.workspace = true"),
            "{crate_manifest} takes the workspace version"
        );
    }
    let cargo = read("Cargo.toml");
    for dep in ["mikrobill = {", "mikrobill-sim = {"] {
        assert_eq!(
            value_after(&cargo, dep, "version = \"", "\"", "Cargo.toml"),
            version,
            "Cargo.toml [workspace.dependencies] {dep}"
        );
    }
    let pyproject = read("bindings/python/pyproject.toml");
    assert_eq!(
        value_after(
            &pyproject,
            "[project]",
            "\nversion = \"",
            "\"",
            "pyproject.toml"
        ),
        version,
        "bindings/python/pyproject.toml"
    );
    let composer = read("bindings/php/composer.json");
    assert_eq!(
        value_after(&composer, "\"version\":", "\"", "\"", "composer.json"),
        version,
        "bindings/php/composer.json"
    );
    let csproj = read("bindings/dotnet/MikroBILL.csproj");
    assert_eq!(
        value_after(&csproj, "<Version>", "", "</Version>", "MikroBILL.csproj"),
        version,
        "bindings/dotnet/MikroBILL.csproj"
    );
}

#[test]
fn every_binding_accepts_the_workspace_series() {
    let prefix = compatible_prefix(&workspace_version());
    let checks = [
        (
            "bindings/php/apicore.php",
            "const VERSION_PREFIX = ",
            "'",
            "'",
        ),
        (
            "bindings/python/src/mikrobill/_loader.py",
            "REQUIRED_VERSION_PREFIX = ",
            "\"",
            "\"",
        ),
        (
            "bindings/dotnet/src/NativeLibraryLoader.cs",
            "const string RequiredVersionPrefix = ",
            "\"",
            "\"",
        ),
    ];
    for (file, anchor, open, close) in checks {
        assert_eq!(
            value_after(&read(file), anchor, open, close, file),
            prefix,
            "{file}: the library versions it accepts"
        );
    }
    assert_eq!(compatible_prefix("0.1.7"), "0.1.");
    assert_eq!(compatible_prefix("2.3.0"), "2.");
}

/// The source files of a binding directory with one of `extensions`.
fn sources(dir: &str, extensions: &[&str]) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(Path::new(ROOT).join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| extensions.iter().any(|ext| name.ends_with(ext)))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no sources in {dir}");
    files
}

/// How many times `source` writes `return` as a key: the word in quotes (`"`, `'`, or `\"` inside
/// a string literal), then optional whitespace and `:` (JSON, Python, C#) or `=>` (PHP). Reading
/// a key (`$r['return']`, `.get("return")`) is not writing one, and comment lines (`//`, `#`,
/// `*`), which may show the shape, are not code.
fn return_keys_written(source: &str) -> usize {
    source
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !["//", "#", "*", "/*"].iter().any(|c| line.starts_with(c))
        })
        .map(return_keys_in_line)
        .sum()
}

fn return_keys_in_line(source: &str) -> usize {
    let bytes = source.as_bytes();
    let is_quote = |b: u8| b == b'"' || b == b'\'';
    let mut count = 0;
    for (at, _) in source.match_indices("return") {
        let end = at + "return".len();
        if at == 0 || !is_quote(bytes[at - 1]) {
            continue;
        }
        let mut next = end;
        if bytes.get(next) == Some(&b'\\') {
            next += 1;
        }
        if !bytes.get(next).is_some_and(|&b| is_quote(b)) {
            continue;
        }
        let rest = source[next + 1..].trim_start();
        if rest.starts_with(':') || rest.starts_with("=>") {
            count += 1;
        }
    }
    count
}

#[test]
fn the_return_key_is_found_in_every_spelling() {
    for written in [
        "'return' => $t",
        "'return'=>$t",
        "\"return\": t",
        "\"return\" : t",
        "'return':t",
        "\"{\\\"return\\\":\"",
        "\"{\\\"return\\\" :\"",
    ] {
        assert_eq!(return_keys_written(written), 1, "{written}");
    }
    for read in [
        "$r['return']",
        "parsed.get(\"return\", x)",
        "return x;",
        "\"return\"",
        "/// {\"return\":TEXT}",
        "  # {'return': text}",
    ] {
        assert_eq!(return_keys_written(read), 0, "{read}");
    }
}

/// Each binding writes the `return` key of an error in one file only, its helper's.
#[test]
fn each_binding_writes_its_error_json_in_one_helper() {
    let bindings = [
        ("PHP", "bindings/php", ".php", "bindings/php/apicore.php"),
        (
            "Python",
            "bindings/python/src/mikrobill",
            ".py",
            "bindings/python/src/mikrobill/errors.py",
        ),
        (
            ".NET",
            "bindings/dotnet/src",
            ".cs",
            "bindings/dotnet/src/ErrorJson.cs",
        ),
    ];
    for (name, dir, extension, helper) in bindings {
        let files = sources(dir, &[extension]);
        assert!(files.iter().any(|f| f == helper), "{helper} exists");
        for file in files {
            let count = return_keys_written(&read(&file));
            let allowed = usize::from(file == helper);
            assert_eq!(
                count, allowed,
                "{name}: {file} writes the \"return\" key {count} times; error JSON is built by the \
                 helper in {helper} only"
            );
        }
    }
}
