#![no_main]
// The lossless JPEG rebuild from DCT coefficients: any input is an error
// or a JPEG that reads back and rebuilds to the same bytes; a scan kept as
// it came is exactly what coding its coefficients gives.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use mugai_image::jpeg_coef::{rebuild, Jpeg};
    let Ok(j) = Jpeg::read(data, 1 << 22) else {
        return;
    };
    let Ok(out) = j.write(None) else {
        return;
    };
    if j.keeps_its_scan() {
        let stored = Jpeg::read_stored(data, 1 << 22).expect("reads keeping coefficients");
        let coded = stored.write_coded(None).expect("a kept scan codes");
        assert_eq!(coded, out, "the kept scan is what coding gives");
    }
    let again = rebuild(&out, 1 << 22).expect("the output reads back");
    assert_eq!(again, out, "the output is a fixpoint");
});
