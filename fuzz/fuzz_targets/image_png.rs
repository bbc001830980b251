#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mugai_engine::fuzz::rebuild_as(
    mugai_core::FileType::Png,
    data
));
