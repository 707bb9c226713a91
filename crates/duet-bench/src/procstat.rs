//! Server CPU time and resident memory, read from `/proc/<pid>/stat` and
//! `/proc/<pid>/status`. The suite reports CPU per operation from two samples, so only
//! the difference matters and the clock-tick unit is read once.

use std::sync::OnceLock;

/// Clock ticks per second (`getconf CLK_TCK`), the unit of utime and stime.
fn ticks_per_sec() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t > 0 {
            t as f64
        } else {
            100.0
        }
    })
}

/// utime + stime of the process in seconds (user and system CPU, all threads).
pub fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; fields after it follow the last ')'.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')' the first field is the state (field 3): utime is field 14, stime 15.
    let utime: f64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    Ok((utime + stime) / ticks_per_sec())
}

/// VmRSS of the process in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// VmHWM, the process's peak resident set since it started or since
/// [`reset_peak_rss`], in bytes.
pub fn peak_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    status_bytes(pid, "VmHWM:")
}

/// Resets the peak resident set to the current one (`clear_refs` value 5).
pub fn reset_peak_rss(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .map_err(|e| anyhow::anyhow!("cannot reset the peak RSS of pid {pid}: {e}"))
}

/// The parts of the resident set (`RssAnon`, `RssFile`, `RssShmem`: heap and stacks,
/// mapped files, shared memory such as SQLite's `-shm` index), in bytes.
pub fn rss_parts(pid: u32) -> anyhow::Result<[u64; 3]> {
    Ok([status_bytes(pid, "RssAnon:")?, status_bytes(pid, "RssFile:")?, status_bytes(pid, "RssShmem:")?])
}

fn status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| anyhow::anyhow!("no {field} for pid {pid}"))?;
    let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(kib * 1024)
}

/// A CPU sample to subtract from a later one.
#[derive(Clone, Copy, Debug)]
pub struct CpuMark {
    pid: u32,
    secs: f64,
}

impl CpuMark {
    pub fn now(pid: u32) -> CpuMark {
        CpuMark { pid, secs: cpu_secs(pid).unwrap_or(0.0) }
    }

    /// CPU seconds the process used since this mark.
    pub fn elapsed(&self) -> f64 {
        cpu_secs(self.pid).unwrap_or(self.secs) - self.secs
    }
}
