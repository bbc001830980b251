//! Wall-clock formatting without a date library: RFC 3339 for the audit
//! log, RFC 5322 for generated mail.

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// civil-from-days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn parts(t: SystemTime) -> (i64, u32, u32, u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let (y, m, day) = civil(days);
    (y, m, day, secs % 86_400, d.subsec_millis())
}

/// `2026-11-22T03:04:05.123Z`
pub fn rfc3339(t: SystemTime) -> String {
    let (y, m, d, s, ms) = parts(t);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `2026年12月1日 22:47 (JST)`, as a Japanese reader expects it.
pub fn jst(t: SystemTime) -> String {
    let (y, m, d, s, _) = parts(t + std::time::Duration::from_secs(9 * 3600));
    format!("{y}年{m}月{d}日 {:02}:{:02} (JST)", s / 3600, s / 60 % 60)
}

/// `Sun, 22 Nov 2026 03:04:05 +0000`
pub fn rfc5322(t: SystemTime) -> String {
    const DOW: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 86_400;
    let (y, m, d, s, _) = parts(t);
    format!(
        "{}, {d} {} {y:04} {:02}:{:02}:{:02} +0000",
        DOW[(days % 7) as usize],
        MON[(m as usize).saturating_sub(1) % 12],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_instants() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_316_645_123);
        assert_eq!(rfc3339(t), "2026-11-22T03:04:05.123Z");
        assert_eq!(rfc5322(t), "Sun, 22 Nov 2026 03:04:05 +0000");
        assert_eq!(jst(t), "2026年11月22日 12:04 (JST)");
        // 15:00 UTC on the last day of the year is the next year in JST.
        assert_eq!(
            jst(UNIX_EPOCH + Duration::from_secs(1_798_729_200)),
            "2027年1月1日 00:00 (JST)"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
