//! Builds the libjpeg(-turbo) encoder (`c/turbo.c`) when the system has
//! libjpeg's headers and library, and says so to the crate with the cfg
//! `jpeg_turbo`; without them (or with `IMAGEIO_JPEG_ENCODER=rust` in the
//! build's environment) the writer uses the pure-Rust `jpeg-encoder`.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(jpeg_turbo)");
    println!("cargo:rerun-if-changed=c/turbo.c");
    println!("cargo:rerun-if-changed=c/turbo.h");
    println!("cargo:rerun-if-env-changed=IMAGEIO_JPEG_ENCODER");
    if std::env::var("IMAGEIO_JPEG_ENCODER").as_deref() == Ok("rust") {
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    // Is libjpeg there? A file that only includes its header tells; an
    // error in turbo.c itself then fails the build, as it should.
    let probe = out.join("probe_jpeglib.c");
    std::fs::write(
        &probe,
        // jpeg_write_icc_profile: libjpeg-turbo 1.5.90 and later (IJG's
        // libjpeg has none); without it the fallback encoder is used.
        "#include <stddef.h>\n#include <stdio.h>\n#include <jpeglib.h>\n\
         void *iio_probe(void) { return (void *)&jpeg_write_icc_profile; }\n",
    )
    .expect("write the probe");
    if let Err(e) = cc::Build::new()
        .file(&probe)
        .warnings(false)
        .flag("-Werror")
        .cargo_metadata(false)
        .try_compile("imageio_jpeg_probe")
    {
        println!(
            "cargo:warning=libjpeg-turbo's headers were not found ({e}); JPEG files are encoded with jpeg-encoder \
             (slower). Install libjpeg-turbo's development files (Debian: libjpeg62-turbo-dev) for the fast encoder."
        );
        return;
    }
    let mut build = cc::Build::new();
    build
        .file(manifest.join("c/turbo.c"))
        .include(manifest.join("c"))
        .warnings(false)
        .opt_level(2);
    for flag in ["-std=c99", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"] {
        build.flag(flag);
    }
    build.compile("imageio_jpeg_turbo");
    println!("cargo:rustc-link-lib=dylib=jpeg");
    println!("cargo:rustc-cfg=jpeg_turbo");
}
