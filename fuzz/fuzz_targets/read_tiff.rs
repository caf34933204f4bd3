//! Fuzzes the TIFF reader through the host.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imageio_fuzz::read("TIFF", data));
