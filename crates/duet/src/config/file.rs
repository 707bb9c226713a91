//! The optional TOML settings file. Its keys are the setting names with underscores
//! (`like_after = "5s"`). A key applies only where neither a flag nor an environment
//! variable set the same setting; it is turned into the flag it stands for, so clap's
//! parsers check file values exactly like flag values.

use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};

use super::cli::ServeArgs;

/// Flags (`--name value`) for the file's settings that the command line and the
/// environment left at their defaults.
pub(super) fn args_from_file(
    path: &Path,
    leaf: &ArgMatches,
    command: &mut clap::Command,
) -> Result<Vec<OsString>, clap::Error> {
    let mut fail = |message: String| command.error(clap::error::ErrorKind::InvalidValue, message);
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read config file {}: {e}", path.display())))?;
    let table: toml::Table =
        text.parse().map_err(|e| fail(format!("config file {} is not valid TOML: {e}", path.display())))?;

    // Every setting of `serve` is a valid key, even where this subcommand ignores it,
    // so one file serves `duet serve` and `duet admin create`.
    let serve = ServeArgs::augment_args(clap::Command::new("serve"));
    let mut extra = Vec::new();
    for (key, value) in table {
        let Some(arg) = serve.get_arguments().find(|a| a.get_id() == key.as_str()) else {
            return Err(fail(format!("unknown setting `{key}` in config file {}", path.display())));
        };
        if key == "config" || key == "check" {
            return Err(fail(format!("`{key}` cannot be set inside a config file")));
        }
        let applies = leaf.try_get_raw(&key).is_ok();
        let overridden =
            matches!(leaf.value_source(&key), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        if !applies || overridden {
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            other => return Err(fail(format!("setting `{key}` cannot be a {}", other.type_str()))),
        };
        let long = arg.get_long().expect("every setting has a long flag");
        extra.push(OsString::from(format!("--{long}={text}")));
    }
    Ok(extra)
}
