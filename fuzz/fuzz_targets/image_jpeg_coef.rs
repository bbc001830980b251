#![no_main]
// The lossless JPEG rebuild from DCT coefficients: any input is an error
// or a JPEG that reads back and rebuilds to the same bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use mugai_image::jpeg_coef::{rebuild, Jpeg};
    let Ok(j) = Jpeg::read(data, 1 << 22) else {
        return;
    };
    let Ok(out) = j.write(None) else {
        return;
    };
    let again = rebuild(&out, 1 << 22).expect("the output reads back");
    assert_eq!(again, out, "the output is a fixpoint");
});
