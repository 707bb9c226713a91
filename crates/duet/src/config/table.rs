//! The configuration table of the README, rendered from the settings themselves so
//! the two cannot drift apart: a test compares the README with [`markdown_table`].

use clap::{Args, Command};

use super::cli::ServeArgs;

/// One Markdown row per setting of `duet serve`: flag, variable, default, meaning.
pub fn markdown_table() -> String {
    let command = ServeArgs::augment_args(Command::new("serve"));
    let mut out = String::from("| flag | environment | default | meaning |\n|---|---|---|---|\n");
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let env = arg.get_env().map(|e| format!("`{}`", e.to_string_lossy())).unwrap_or_default();
        let default = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let default = if default.is_empty() { "—".to_owned() } else { format!("`{default}`") };
        let help =
            arg.get_help().map(|h| h.to_string()).unwrap_or_default().replace('\n', " ").replace('|', "\\|");
        out.push_str(&format!("| `--{long}` | {env} | {default} | {help} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    const BEGIN: &str = "<!-- settings:begin -->\n";
    const END: &str = "<!-- settings:end -->";

    /// Run with `DUET_WRITE_README=1` to rewrite the README's table after changing a
    /// setting.
    #[test]
    fn the_readme_table_matches_the_settings() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md at the workspace root");
        let start = readme.find(BEGIN).expect("README has the settings:begin marker") + BEGIN.len();
        let end = readme.find(END).expect("README has the settings:end marker");
        let expected = super::markdown_table();
        if std::env::var_os("DUET_WRITE_README").is_some() {
            let updated = format!("{}{}{}", &readme[..start], expected, &readme[end..]);
            std::fs::write(path, updated).expect("README written");
            return;
        }
        assert_eq!(
            &readme[start..end],
            expected,
            "the README's configuration table is out of date: run DUET_WRITE_README=1 cargo test -p duet --lib readme"
        );
    }
}
