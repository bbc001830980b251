#![no_main]
// The PDF content-stream tokenizer and writer. Besides not panicking, its
// output must be a fixpoint: rewriting it changes nothing and drops nothing.
use mugai_pdf::content::{rebuild, Operand};

fn keep_all(_: &[(Vec<u8>, Operand)], _: &[u8]) -> bool {
    true
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (once, _) = rebuild(data, &mut keep_all);
    let (twice, removed) = rebuild(&once, &mut keep_all);
    assert!(
        removed.is_empty(),
        "rewriting the output removed {removed:?}"
    );
    assert!(once == twice, "the output is not a fixpoint");
});
