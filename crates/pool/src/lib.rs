//! Worker-process pool: each file is rebuilt in a killable, memory-limited process.
