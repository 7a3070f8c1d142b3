//! `include/mikrobill.h`: cbindgen reads the exports in `src/ffi`, with the conventions of
//! `cbindgen.toml` in front; `enum mb_code` is written from `mikrobill::abi::CODES`.

use std::path::Path;

use mikrobill::abi::CODES;

use crate::Generated;

pub fn generate(root: &Path) -> Generated {
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is readable");
    config.after_includes = Some(code_enum());
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen parses the crate")
        .write(&mut out);
    let text = String::from_utf8(out).expect("cbindgen writes UTF-8");
    ("include/mikrobill.h", text)
}

/// The codes as a C enum in cbindgen's style; plain `enum` syntax, which PHP's `FFI::cdef`
/// accepts.
fn code_enum() -> String {
    let mut out = String::from(
        "\n/*\n The library's own error codes, returned by every export that fails. A failed TCP\n \
         connect returns the OS errno instead (always below 4096), and a refused login the\n \
         server's own non-zero code.\n */\ntypedef enum mb_code {\n",
    );
    // 0 is success, said by the prologue; an enumerator for it would be MB_OK, which windows.h
    // defines as a macro (a MessageBox flag), so a Windows program including both would not
    // compile.
    for spec in CODES.iter().filter(|spec| spec.value != 0) {
        out.push_str("  /*\n");
        for line in wrap(spec.doc.trim(), 92) {
            out.push_str(&format!("   {line}\n"));
        }
        out.push_str("   */\n");
        out.push_str(&format!("  MB_{} = {},\n", spec.name, spec.value));
    }
    out.push_str("} mb_code;\n");
    out
}

/// `text` in lines of at most `width` characters, broken at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
