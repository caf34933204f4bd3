//! Fuzzes URI and mode parsing (`Request::new`), with downloads forbidden.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static INIT: std::sync::Once = std::sync::Once::new();
    // SAFETY: set once, before any request, by the only thread that reads it here.
    INIT.call_once(|| unsafe { std::env::set_var("IMAGEIO_NO_INTERNET", "1") });
    imageio_fuzz::request(data);
});
