//! Hash-chained JSON Lines audit log, its verification and summary.
