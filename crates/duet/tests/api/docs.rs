//! The commands that the README and `docs/` show, run as a reader would type them, so a
//! renamed flag, subcommand or binary fails here and not in a newcomer's terminal.
//!
//! Every command line in a `sh` block is one of:
//! - `cargo run --release -- ARGS` (with `VAR=value` prefixes, and the password piped
//!   in by `printf … |`): run here with the test build of the binary, in a temporary
//!   folder as its working directory. `serve` must answer `/health` and `/` and exit 0
//!   on SIGTERM; `--check` must exit 0 on the README's example TOML file; `admin create`
//!   must make an administrator who can then log in. A PostgreSQL URL gets a fresh
//!   database name on the documented server.
//! - `cargo bench …`: the bench target it names must exist (`.ci/run` compiles every
//!   bench with `--no-run`).
//! - `duet-bench SCENARIO …` (BENCHMARKS.md's record of a suite run): the suite script
//!   runs that scenario (`.ci/run` runs the suite in its quick mode).
//! - anything else: `.ci/run` runs it verbatim, or it is in the README's quick start,
//!   whose commands `.ci/run` reads from the README itself.
//!
//! `curl` walkthroughs (docs/api.md) are left out: they need a running session.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use sqlx::Connection;

use crate::helpers::{ServerProcess, PASSWORD};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

/// A command line from a documentation file.
#[derive(Debug)]
struct Shown {
    file: String,
    line: String,
    in_quick_start: bool,
}

/// Every command line in the `sh` blocks of the README, BENCHMARKS.md and `docs/*.md`.
fn shown_commands() -> Vec<Shown> {
    let root = root();
    let mut files = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is there")
        .map(|e| e.expect("a docs entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a readable doc");
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let (mut in_block, mut section, mut continued, mut in_curl) = (false, String::new(), false, false);
        for raw in text.lines() {
            if let Some(heading) = raw.strip_prefix("## ") {
                section = heading.trim().to_owned();
            }
            if raw.starts_with("```") {
                in_block = !in_block && raw.trim() == "```sh";
                (continued, in_curl) = (false, false);
                continue;
            }
            // A trailing `  # comment` is not part of the command.
            let line = raw.split_once("  #").map_or(raw, |(command, _)| command).trim();
            let was_continued = std::mem::replace(&mut continued, line.ends_with('\\'));
            if line.is_empty() || line.starts_with('#') {
                in_curl = false;
            }
            // The curl walkthroughs (their bodies span lines) and the variables they set.
            in_curl |= line.starts_with("curl ");
            if !in_block || in_curl || was_continued || line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.split_whitespace().count() == 1 && line.contains('=') {
                continue;
            }
            out.push(Shown {
                file: file.clone(),
                line: line.to_owned(),
                in_quick_start: section == "Quick start",
            });
        }
    }
    out
}

/// `cargo run --release -- ARGS`, split into its parts.
#[derive(Debug, Default)]
struct CargoRun {
    env: Vec<(String, String)>,
    stdin_password: bool,
    args: Vec<String>,
}

fn parse_cargo_run(line: &str) -> Option<CargoRun> {
    let mut run = CargoRun::default();
    let mut rest = line;
    if let Some((pipe, after)) = rest.split_once(" | ") {
        assert!(pipe.starts_with("printf "), "only a password is piped into a command: {line}");
        run.stdin_password = true;
        rest = after;
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let start = words.iter().position(|w| !w.contains('=') || w.starts_with('-'))?;
    for assignment in &words[..start] {
        let (k, v) = assignment.split_once('=').unwrap();
        run.env.push((k.to_owned(), v.to_owned()));
    }
    let command = &words[start..];
    let dashes = command.iter().position(|w| *w == "--")?;
    if command[..dashes] != ["cargo", "run", "--release"] {
        return None;
    }
    run.args = command[dashes + 1..].iter().map(|w| w.to_string()).collect();
    Some(run)
}

/// The README's example configuration file (its first `toml` block).
fn example_config() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("```toml\n").expect("the README shows an example TOML file") + "```toml\n".len();
    let end = readme[start..].find("```").unwrap() + start;
    readme[start..end].to_owned()
}

/// A `duet` process started as the docs say, logging JSON on a free port.
struct Served {
    process: ServerProcess,
    addr: String,
}

impl Served {
    fn start(run: &CargoRun, cwd: &Path) -> Served {
        let mut command = Command::new(env!("CARGO_BIN_EXE_duet"));
        command.args(&run.args).current_dir(cwd).env_remove("DATABASE_URL");
        // The documented command as it is, but on a free port and with JSON logs, which
        // the flags (none given) leave to these variables.
        assert!(!run.args.iter().any(|a| a.starts_with("--bind") || a.starts_with("--log-format")));
        command.env("DUET_BIND", "127.0.0.1:0").env("DUET_LOG_FORMAT", "json");
        command.envs(run.env.iter().map(|(k, v)| (k, v)));
        let (process, addr) = ServerProcess::spawn(command);
        Served { process, addr }
    }

    /// SIGTERM, then the exit status must be success.
    fn terminate(self) {
        self.process.terminate();
    }
}

/// Replaces the database name of a documented PostgreSQL URL by a fresh one on the same
/// server, or None when that server is not reachable (outside CI, the command is then
/// not run; under CI=true it must be).
async fn fresh_postgres_url(documented: &str) -> Option<(String, String, String)> {
    let (server, _db) = documented.rsplit_once('/').expect("a database URL has a path");
    let admin_url = format!("{server}/postgres");
    match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => {
            conn.close().await.ok();
        }
        Err(e) if std::env::var("CI").is_err() => {
            eprintln!("docs: PostgreSQL at {server} is unreachable ({e}); its command is not run");
            return None;
        }
        Err(e) => panic!("CI=true but PostgreSQL at {server} is unreachable: {e}"),
    }
    let name = format!("duet_docs_{}", uuid::Uuid::new_v4().simple());
    Some((format!("{server}/{name}"), admin_url, name))
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
    }
}

async fn check_serves(addr: &str) {
    let client = reqwest::Client::new();
    let health = client.get(format!("http://{addr}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let page = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"), "`/` serves the web client");
}

/// Runs one documented `cargo run --release -- …` command.
async fn run_documented(shown: &Shown, mut run: CargoRun) {
    let dir = tempfile::tempdir().unwrap();
    let mut database = None;
    for (key, value) in run.env.iter_mut() {
        if key == "DATABASE_URL" && value.starts_with("postgres") {
            let Some(fresh) = fresh_postgres_url(value).await else { return };
            *value = fresh.0.clone();
            database = Some(fresh);
        }
    }
    let args: Vec<&str> = run.args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["serve", rest @ ..] if rest.contains(&"--check") => {
            let config = rest.iter().position(|a| *a == "--config").map(|i| rest[i + 1]);
            if let Some(file) = config {
                std::fs::write(dir.path().join(file), example_config()).unwrap();
            }
            let out = Command::new(env!("CARGO_BIN_EXE_duet"))
                .args(&run.args)
                .current_dir(dir.path())
                .env_remove("DATABASE_URL")
                .envs(run.env.iter().map(|(k, v)| (k, v)))
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{}: `{}` failed: {}",
                shown.file,
                shown.line,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.contains("127.0.0.1:8080"), "--check prints the file's settings: {stdout}");
        }
        ["serve", ..] => {
            let served = Served::start(&run, dir.path());
            check_serves(&served.addr).await;
            served.terminate();
            if database.is_none() {
                let data = dir.path().join("duet-data");
                assert!(data.join("duet.db").exists(), "the embedded default is ./duet-data/duet.db");
            }
        }
        ["admin", "create", "--username", username] => {
            assert!(
                run.stdin_password,
                "{}: show the password on standard input: {}",
                shown.file, shown.line
            );
            let mut child = Command::new(env!("CARGO_BIN_EXE_duet"))
                .args(&run.args)
                .current_dir(dir.path())
                .env_remove("DATABASE_URL")
                .envs(run.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}: `{}` failed", shown.file, shown.line);
            // The administrator logs in to a server started as the quick start says,
            // on the same data folder.
            let serve = CargoRun { env: run.env.clone(), args: vec!["serve".into()], ..CargoRun::default() };
            let served = Served::start(&serve, dir.path());
            let login: Value = reqwest::Client::new()
                .post(format!("http://{}/auth/login", served.addr))
                .json(&json!({ "username": username, "password": PASSWORD }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(login["user"]["role"], "admin", "the administrator logs in: {login}");
            served.terminate();
        }
        _ => panic!("{}: no test runs `{}`; add it to tests/api/docs.rs", shown.file, shown.line),
    }
    if let Some((_, admin_url, name)) = database {
        drop_database(&admin_url, &name).await;
    }
}

/// The `[[bench]]` names of every crate in the workspace.
fn bench_targets() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(manifest) else { continue };
        let mut in_bench = false;
        for line in text.lines() {
            if line.starts_with('[') {
                in_bench = line.trim() == "[[bench]]";
            } else if let Some(name) = line.strip_prefix("name = ").filter(|_| in_bench) {
                names.push(name.trim_matches('"').to_owned());
            }
        }
    }
    names
}

#[tokio::test]
async fn every_documented_command_runs() {
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(ci.contains("## Quick start"), ".ci/run reads the quick start from the README");
    assert!(
        ci.contains("cargo clippy --all-targets"),
        ".ci/run type-checks the benchmarks (clippy --all-targets)"
    );
    let suite =
        std::fs::read_to_string(root().join("crates/duet-bench/run-suite.sh")).expect("the suite script");
    let benches = bench_targets();
    let shown = shown_commands();
    assert!(shown.iter().filter(|s| s.in_quick_start).count() == 2, "the quick start has two commands");
    for command in &shown {
        eprintln!("docs: {}: {}", command.file, command.line);
        if let Some(run) = parse_cargo_run(&command.line) {
            run_documented(command, run).await;
        } else if command.line.starts_with("cargo bench") {
            let words: Vec<&str> = command.line.split_whitespace().collect();
            let bench = words.iter().position(|w| *w == "--bench").map(|i| words[i + 1]);
            let bench =
                bench.unwrap_or_else(|| panic!("{}: `{}` names no bench", command.file, command.line));
            assert!(benches.iter().any(|b| b == bench), "{}: no bench target `{bench}`", command.file);
        } else if let Some(scenario) = command.line.strip_prefix("duet-bench ") {
            // BENCHMARKS.md's record of a suite run: the suite script runs each one.
            let scenario = scenario.split_whitespace().next().unwrap_or_default();
            assert!(
                suite.contains(&format!("run {scenario} ")),
                "{}: the suite runs no `{scenario}`",
                command.file
            );
        } else {
            assert!(
                command.in_quick_start || ci.contains(&command.line),
                "{}: `{}` is run neither by this test nor by .ci/run",
                command.file,
                command.line
            );
        }
    }
}

#[test]
fn the_parser_reads_the_documented_shapes() {
    let run = parse_cargo_run("DATABASE_URL=postgres://h/d cargo run --release -- serve --check").unwrap();
    assert_eq!(run.env, vec![("DATABASE_URL".to_owned(), "postgres://h/d".to_owned())]);
    assert_eq!(run.args, ["serve", "--check"]);
    let run =
        parse_cargo_run(r#"printf '%s\n' "$P" | cargo run --release -- admin create --username a"#).unwrap();
    assert!(run.stdin_password);
    assert_eq!(run.args, ["admin", "create", "--username", "a"]);
    assert!(parse_cargo_run("cargo test --test api").is_none());
    assert!(parse_cargo_run("bash e2e/run.sh").is_none());
}
