//! Local time with an offset.
//!
//! The local offset can only be read safely while the process has one
//! thread, so [`init`] is called at start-up and the offset is kept; UTC is
//! used when it was never found.

use std::sync::OnceLock;
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
