//! Value types that settings are written in: durations (`500ms`, `30s`, `5m`, `24h`,
//! `30d`), byte sizes (`16KiB`, `5MiB`) and rates (`5/min`, `600/min`, `5/h`).
//! Each parses from the same text on the command line, in `DUET_*` variables and in the
//! TOML file, and prints back in a form that parses again.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Parses a human duration such as `500ms`, `30s`, `5m`, `24h` or `30d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like 500ms, 30s, 5m, 24h or 30d ({e})"))?;
    if d.is_zero() {
        return Err("a duration must be longer than zero".into());
    }
    Ok(d)
}

/// Parses a byte size such as `16KiB`, `5MiB` or a plain number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let size = bytesize::ByteSize::from_str(text.trim())
        .map_err(|_| format!("`{text}` is not a size like 16KiB or 5MiB"))?;
    if size.as_u64() == 0 {
        return Err("a size must be larger than zero".into());
    }
    Ok(size.as_u64())
}

/// A number of events allowed per period, written `5/min`, `5/h`, `10/s` or `20/30s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{text}` is not a rate like 5/min, 5/h or 10/s");
        let (count, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err("a rate must allow at least one event".into());
        }
        let per = match period.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            other => parse_duration(other).map_err(|_| bad())?,
        };
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

/// A value that must not be printed: Debug shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret(text.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_spec_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(parse_size("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_size("5MiB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let s: Secret = "hunter2hunter2".parse().unwrap();
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2hunter2");
    }

    #[test]
    fn rates_round_trip() {
        let r: Rate = "5/min".parse().unwrap();
        assert_eq!(r, Rate { count: 5, per: Duration::from_secs(60) });
        let again: Rate = r.to_string().parse().unwrap();
        assert_eq!(again, r);
        assert_eq!("20/30s".parse::<Rate>().unwrap().per, Duration::from_secs(30));
        assert!("0/min".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
    }
}
