//! Local time with an offset.
//!
//! The local offset can only be read safely while the process has one
//! thread, so [`init`] is called at start-up and the offset is kept; UTC is
//! used when it was never found. Formats: RFC 3339 for records, RFC 5322
//! for mail headers, and the Japanese form (JST) for notices.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

static OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Finds and keeps the local offset. Call before starting threads.
pub fn init() {
    let off = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = OFFSET.set(off);
}

/// The kept local offset (UTC when [`init`] was not called or failed).
pub fn offset() -> UtcOffset {
    OFFSET.get().copied().unwrap_or(UtcOffset::UTC)
}

/// Now, in the local offset.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(offset())
}

/// A wall-clock instant in the local offset (clamped to the range the
/// calendar holds).
pub fn at(t: SystemTime) -> OffsetDateTime {
    let nanos = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => i128::try_from(e.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    };
    let utc = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if nanos < 0 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    });
    utc.checked_to_offset(offset()).unwrap_or(utc)
}

/// RFC 3339 with offset, e.g. `2026-11-22T10:00:00.123+09:00`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `YYYY-MM-DD` of a time.
pub fn date(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Today's local date, `YYYY-MM-DD`.
pub fn today() -> String {
    date(now())
}

/// RFC 5322 date-time for mail headers, e.g. `Sun, 22 Nov 2026 12:04:05 +0900`.
pub fn rfc5322(t: OffsetDateTime) -> String {
    const DOW: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let off = t.offset();
    let mins = off.whole_minutes();
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        DOW[usize::from(t.weekday().number_days_from_monday()) % 7],
        t.day(),
        MON[usize::from(u8::from(t.month())).saturating_sub(1) % 12],
        t.year(),
        t.hour(),
        t.minute(),
        t.second(),
        if mins < 0 { '-' } else { '+' },
        mins.unsigned_abs() / 60,
        mins.unsigned_abs() % 60
    )
}

/// A time as a Japanese reader expects it, in JST:
/// `2026年12月1日 22:47 (JST)`.
pub fn jst(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(time::macros::offset!(+9)).unwrap_or(t);
    format!(
        "{}年{}月{}日 {:02}:{:02} (JST)",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use time::macros::offset;

    #[test]
    fn known_instants() {
        let t = at(UNIX_EPOCH + Duration::from_millis(1_795_316_645_123));
        assert_eq!(t.unix_timestamp(), 1_795_316_645);
        let utc = t.to_offset(UtcOffset::UTC);
        assert_eq!(rfc3339(utc), "2026-11-22T03:04:05.123Z");
        assert_eq!(rfc5322(utc), "Sun, 22 Nov 2026 03:04:05 +0000");
        let tokyo = t.to_offset(offset!(+9));
        assert_eq!(rfc3339(tokyo), "2026-11-22T12:04:05.123+09:00");
        assert_eq!(rfc5322(tokyo), "Sun, 22 Nov 2026 12:04:05 +0900");
        assert_eq!(
            rfc5322(t.to_offset(offset!(-3:30))),
            "Sat, 21 Nov 2026 23:34:05 -0330"
        );
        assert_eq!(jst(utc), "2026年11月22日 12:04 (JST)");
        assert_eq!(jst(tokyo), "2026年11月22日 12:04 (JST)");
        assert_eq!(date(tokyo), "2026-11-22");
        // 15:00 UTC on the last day of the year is the next year in JST.
        assert_eq!(
            jst(at(UNIX_EPOCH + Duration::from_secs(1_798_729_200))),
            "2027年1月1日 00:00 (JST)"
        );
        assert_eq!(
            rfc5322(at(UNIX_EPOCH + Duration::from_secs(951_782_400)).to_offset(UtcOffset::UTC)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
    }

    #[test]
    fn out_of_range_instants_do_not_panic() {
        let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
        assert_eq!(at(far).year(), 9999);
        let before = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(at(before).unix_timestamp(), -86_400);
        let _ = rfc5322(at(far));
        let _ = jst(at(far));
    }
}
