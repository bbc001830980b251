#![no_main]
// Outlook .msg: compound file -> MIME -> text-ized mail.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mugai_engine::fuzz::rebuild_as(mugai_core::FileType::Msg, data)
});
