//! The transfer-share daemon: watch, sanitise, drop atomically, quarantine, journal.
