//! Validates a JUnit file against `tests/data/junit-10.xsd` (Jenkins xUnit's schema) with
//! Python's `xmlschema`, installing it with pip once when it is missing. Never skips: a missing
//! validator is a test failure with a message saying what to install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The schema, a copy kept in this crate (see `tests/data/README.md` for its origin).
pub(crate) fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit-10.xsd")
}

const VALIDATE: &str = r#"
import sys, xmlschema
schema = xmlschema.XMLSchema(sys.argv[1])
errors = list(schema.iter_errors(sys.argv[2]))
for e in errors[:10]:
    print(e, file=sys.stderr)
    print("-" * 40, file=sys.stderr)
sys.exit(1 if errors else 0)
"#;

fn python() -> &'static str {
    if cfg!(windows) {
        "python"
    } else {
        "python3"
    }
}

fn has_xmlschema() -> bool {
    Command::new(python())
        .args(["-c", "import xmlschema"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Makes sure `import xmlschema` works, installing it with pip once per test process.
fn ensure_xmlschema() -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if has_xmlschema() {
                return Ok(());
            }
            let install = Command::new(python())
                .args(["-m", "pip", "install", "--quiet", "xmlschema"])
                .output();
            if has_xmlschema() {
                return Ok(());
            }
            let detail = match install {
                Ok(o) => String::from_utf8_lossy(&o.stderr).to_string(),
                Err(e) => format!("cannot run {}: {e}", python()),
            };
            Err(format!(
                "JUnit schema validation needs Python 3 with the `xmlschema` package, and \
                 `{} -m pip install xmlschema` failed:\n{detail}",
                python()
            ))
        })
        .clone()
}

/// Panics unless the JUnit file at `path` is valid against `junit-10.xsd`, printing the
/// validator's errors and the start of the file.
pub(crate) fn assert_valid_junit(path: &Path) {
    let schema = schema_path();
    assert!(
        schema.is_file(),
        "JUnit schema not found at {} (the repository expects `shared/` beside it)",
        schema.display()
    );
    assert!(path.is_file(), "JUnit file not found at {}", path.display());
    if let Err(e) = ensure_xmlschema() {
        panic!("{e}");
    }
    let out = Command::new(python())
        .arg("-c")
        .arg(VALIDATE)
        .arg(&schema)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    if !out.status.success() {
        let xml = std::fs::read_to_string(path).unwrap_or_default();
        let head: String = xml.chars().take(4000).collect();
        panic!(
            "{} is not valid against {}:\n{}{}\n--- start of the file ---\n{head}",
            path.display(),
            schema.display(),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
        );
    }
}
