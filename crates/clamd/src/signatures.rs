//! How old clamd's signature database is, from its `VERSION` reply
//! (`ClamAV 1.4.6/27400/Sat Nov 21 10:00:00 2026`: engine, database
//! version, database date). Policies require the pattern files to be kept
//! current; a reply without the database part means none are loaded.

use crate::client::Clamd;
use mugai_core::config::{AvPolicy, OnStaleSignatures};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the database looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signatures {
    /// clamd answered without a database version: nothing is loaded.
    Missing,
    /// Loaded: the database version and its age (zero if dated ahead).
    Dated { version: String, age: Duration },
    /// The date could not be read.
    Undated { version: String },
}

impl Signatures {
    /// Whether the database is missing or older than `max`.
    pub fn is_stale(&self, max: Duration) -> bool {
        match self {
            Signatures::Missing | Signatures::Undated { .. } => true,
            Signatures::Dated { age, .. } => *age > max,
        }
    }

    /// One line for logs and `check-config`.
    pub fn describe(&self) -> String {
        match self {
            Signatures::Missing => "no signatures loaded".into(),
            Signatures::Dated { version, age } => {
                format!("signatures {version}, {} h old", age.as_secs() / 3600)
            }
            Signatures::Undated { version } => {
                format!("signatures {version}, date unreadable")
            }
        }
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `Sat Nov 21 10:00:00 2026` (C's `ctime` form) as a time, read as UTC:
/// an hour's precision is all the check needs.
fn parse_ctime(s: &str) -> Option<SystemTime> {
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let f: Vec<&str> = s.split_whitespace().collect();
    let [_, mon, day, hms, year] = f.as_slice() else {
        return None;
    };
    let m = MON.iter().position(|x| x == mon)? as u32 + 1;
    let d: u32 = day.parse().ok()?;
    let y: i64 = year.parse().ok()?;
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let secs = days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + se;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Reads a `VERSION` reply at `now`.
pub fn from_version(reply: &str, now: SystemTime) -> Signatures {
    let mut parts = reply.trim().splitn(3, '/');
    let _engine = parts.next();
    let Some(version) = parts.next().map(str::trim).filter(|v| !v.is_empty()) else {
        return Signatures::Missing;
    };
    match parts.next().and_then(parse_ctime) {
        Some(t) => Signatures::Dated {
            version: version.to_string(),
            age: now.duration_since(t).unwrap_or_default(),
        },
        None => Signatures::Undated {
            version: version.to_string(),
        },
    }
}

/// Asks clamd now.
pub fn check(clamd: &Clamd) -> std::io::Result<Signatures> {
    Ok(from_version(&clamd.version()?, SystemTime::now()))
}

/// The last answer per clamd address, and when it was asked.
type Checked = HashMap<String, (Instant, Option<Signatures>)>;

/// Looked up again after this long.
const RECHECK: Duration = Duration::from_secs(3600);

/// The age limit that makes scans fail closed, under `on_stale = "block"`.
pub fn blocking_limit(av: &AvPolicy) -> Option<u64> {
    (av.on_stale == OnStaleSignatures::Block && av.max_signature_age_hours > 0)
        .then_some(av.max_signature_age_hours)
}

/// Why scans must fail closed (signatures missing or older than
/// `max_hours`), if they must: the database state is asked of clamd at
/// most hourly per process.
pub fn blocking_reason(clamd: &Clamd, max_hours: u64) -> Option<String> {
    static CACHE: Mutex<Option<Checked>> = Mutex::new(None);
    let key = clamd.address.to_string();
    let mut guard = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let cache = guard.get_or_insert_with(HashMap::new);
    let fresh = cache
        .get(&key)
        .is_some_and(|(at, _)| at.elapsed() < RECHECK);
    if !fresh {
        cache.insert(key.clone(), (Instant::now(), check(clamd).ok()));
    }
    let max = Duration::from_secs(max_hours * 3600);
    match cache.get(&key).and_then(|(_, s)| s.as_ref()) {
        // Unreachable: the scan itself reports that.
        None => None,
        Some(s) if s.is_stale(max) => Some(format!(
            "malware signatures are not current ({}; at most {max_hours} h allowed)",
            s.describe(),
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::{ScanResult, Scanner};
    use std::io::{Read, Write};

    /// A clamd stand-in: answers VERSION with `version`, anything else
    /// (INSTREAM) with `stream: OK`.
    fn fake_clamd(version: &'static str) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 9];
                let _ = s.read_exact(&mut buf);
                let reply = if buf.starts_with(b"zVERSION") {
                    version.to_string()
                } else {
                    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut rest = Vec::new();
                    let _ = s.read_to_end(&mut rest);
                    "stream: OK".to_string()
                };
                let _ = s.write_all(reply.as_bytes());
                let _ = s.write_all(b"\0");
            }
        });
        format!("tcp:{addr}")
    }

    #[test]
    fn stale_signatures_fail_scans_closed_only_under_block() {
        let old = fake_clamd("ClamAV 1.4.6/27000/Mon Jan  5 10:00:00 2026");
        let av = |on_stale| AvPolicy {
            clamd: Some(old.clone()),
            on_stale,
            ..AvPolicy::default()
        };
        let warn = crate::from_policy(&av(OnStaleSignatures::Warn)).unwrap();
        assert_eq!(warn.scan(b"hello"), ScanResult::Clean);
        let block = crate::from_policy(&av(OnStaleSignatures::Block)).unwrap();
        match block.scan(b"hello") {
            ScanResult::Unavailable(why) => assert!(why.contains("not current"), "{why}"),
            other => panic!("{other:?}"),
        }
        let fresh = fake_clamd("ClamAV 1.4.6/27400/Tue Dec  1 10:00:00 2099");
        let block = crate::from_policy(&AvPolicy {
            clamd: Some(fresh),
            on_stale: OnStaleSignatures::Block,
            ..AvPolicy::default()
        })
        .unwrap();
        assert_eq!(block.scan(b"hello"), ScanResult::Clean);
    }

    #[test]
    fn the_database_date_is_read_from_version() {
        let now = parse_ctime("Tue Dec  1 10:00:00 2026").unwrap();
        assert_eq!(
            now.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_796_119_200
        );
        let s = from_version("ClamAV 1.4.6/27400/Sat Nov 28 10:00:00 2026", now);
        assert_eq!(
            s,
            Signatures::Dated {
                version: "27400".into(),
                age: Duration::from_secs(3 * 86_400)
            }
        );
        assert!(s.is_stale(Duration::from_secs(48 * 3600)));
        assert!(!s.is_stale(Duration::from_secs(96 * 3600)));
        assert_eq!(from_version("ClamAV 1.4.6", now), Signatures::Missing);
        assert!(Signatures::Missing.is_stale(Duration::MAX));
        assert!(matches!(
            from_version("ClamAV 1.4.6/27400/someday", now),
            Signatures::Undated { .. }
        ));
    }
}
