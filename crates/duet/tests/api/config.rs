//! Configuration as a user meets it: the binary's help, defaults, precedence of flags,
//! environment and file, and refusal of bad settings with a message naming them.

use std::process::{Command, Output};

fn duet(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_duet"));
    cmd.args(args);
    // A clean slate: settings from the test runner's environment must not leak in.
    for (key, _) in std::env::vars() {
        if key.starts_with("DUET_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("the duet binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_every_setting_with_its_variable() {
    let top = duet(&["--help"], &[]);
    assert!(stdout(&top).contains("serve"));
    assert!(stdout(&top).contains("admin"));
    let out = duet(&["serve", "--help"], &[]);
    let help = stdout(&out);
    for needle in [
        "--bind",
        "DUET_BIND",
        "--like-after",
        "DUET_LIKE_AFTER",
        "DATABASE_URL",
        "--max-frame-bytes",
        "--rate-login",
        "--config",
    ] {
        assert!(help.contains(needle), "help mentions {needle}");
    }
}

#[test]
fn defaults_are_the_spec_values() {
    let out = duet(&["serve", "--check"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "bind: 127.0.0.1:8000",
        "like_after: 300s",
        "access_ttl: 900s",
        "max_avatar_bytes: 5242880",
        "max_frame_bytes: 16384",
        "min_age: 18",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

#[test]
fn flags_beat_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("duet.toml");
    std::fs::write(&file, "like_after = \"70s\"\ninactivity_timeout = \"2m\"\nmin_age = 21\nallowed_origins = [\"https://a.example\", \"https://b.example\"]\n").unwrap();
    let path = file.to_str().unwrap();
    let out = duet(
        &["serve", "--check", "--config", path, "--inactivity-timeout", "3m"],
        &[("DUET_LIKE_AFTER", "90s"), ("DUET_MSG_BURST", "40")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("like_after: 90s"), "env beats file: {text}");
    assert!(text.contains("inactivity_timeout: 180s"), "flag beats file: {text}");
    assert!(text.contains("min_age: 21"), "file beats default: {text}");
    assert!(text.contains("msg_burst: 40"), "env beats default: {text}");
    assert!(text.contains("https://b.example"), "lists from the file: {text}");
    assert!(!text.contains("jwt_secret: Some(\""), "secrets are hidden");
}

#[test]
fn secrets_never_print() {
    let out = duet(
        &["serve", "--check"],
        &[
            ("DUET_JWT_SECRET", "a-very-secret-value-that-is-long-enough"),
            ("DATABASE_URL", "postgres://u:pw@localhost/db"),
            ("DUET_TURN_SECRET", "the-turn-servers-own-secret"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("a-very-secret-value") && !text.contains(":pw@"), "{text}");
    assert!(!text.contains("the-turn-servers-own-secret"), "{text}");
    let help = stdout(&duet(
        &["serve", "--help"],
        &[("DUET_JWT_SECRET", "a-very-secret-value-that-is-long-enough")],
    ));
    assert!(!help.contains("a-very-secret-value"));
}

type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "like_aftr = \"5s\"\n").unwrap();
    let bad_value = dir.path().join("bad.toml");
    std::fs::write(&bad_value, "search_timeout = \"forever\"\n").unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "like_after = \n").unwrap();
    // (flags, environment, what the error message must name)
    let cases: Vec<Case> = vec![
        (vec!["--like-after", "soon"], vec![], "--like-after"),
        (vec![], vec![("DUET_MAX_FRAME_BYTES", "huge")], "--max-frame-bytes"),
        (vec![], vec![("DUET_BIND", "not-an-address")], "--bind"),
        (vec!["--rate-login", "lots"], vec![], "--rate-login"),
        (vec!["--jwt-secret", "short"], vec![], "--jwt-secret"),
        (vec!["--like-answer-window", "10m"], vec![], "--like-answer-window"),
        (vec!["--database-url", "mysql://x"], vec![], "--database-url"),
        // PostgreSQL instances share no file for a generated secret.
        (vec!["--database-url", "postgres://u@127.0.0.1:1/x"], vec![], "--jwt-secret"),
        (vec!["--proxy-count", "0"], vec![], "--proxy-count"),
        (vec!["--allowed-origins", "duet.example"], vec![], "--allowed-origins"),
        (vec!["--log-format", "xml"], vec![], "--log-format"),
        (vec!["--ice-servers", "http://stun.example"], vec![], "--ice-servers"),
        // TURN needs its secret: clients get credentials made from it.
        (vec!["--ice-servers", "turn:turn.example:3478"], vec![], "--turn-secret"),
        (vec!["--call-ring-timeout", "0s"], vec![], "--call-ring-timeout"),
        (vec!["--call-reconnect-grace", "500ms"], vec![], "--call-reconnect-grace"),
        (vec!["--config", unknown.to_str().unwrap()], vec![], "like_aftr"),
        (vec!["--config", bad_value.to_str().unwrap()], vec![], "--search-timeout"),
        (vec!["--config", broken.to_str().unwrap()], vec![], "not valid TOML"),
        (vec!["--config", "/nonexistent/duet.toml"], vec![], "cannot read config file"),
    ];
    for (args, env, named) in cases {
        let mut all = vec!["serve", "--check"];
        all.extend(args.iter().copied());
        let out = duet(&all, &env);
        assert!(!out.status.success(), "{args:?} {env:?} is refused");
        assert!(stderr(&out).contains(named), "{args:?} {env:?}: message names {named}: {}", stderr(&out));
    }
}

#[test]
fn serve_refuses_to_start_on_an_unusable_bind_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out =
        duet(&["serve", "--bind", &addr, "--data-dir", dir.path().to_str().unwrap(), "--log", "warn"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--bind"), "{}", stderr(&out));
}
