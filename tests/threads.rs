//! Eight threads reading through one FormatManager at once.

use imageio::{Options, formats};
use imageio_tests::workspace;

#[test]
fn eight_threads_read_correctly_through_the_global_manager() {
    let png = workspace().join("tests/data/hello-page.png");
    let expected_png = imageio::imread(&png, &Options::default()).unwrap();
    let ppm_bytes = imageio::imwrite("<bytes>", &expected_png, &Options::default().with_format("PNM"))
        .unwrap()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (png, expected, ppm) = (&png, &expected_png, &ppm_bytes);
            s.spawn(move || {
                for i in 0..12 {
                    let im = if (t + i) % 2 == 0 {
                        formats().imread(png, &Options::default()).unwrap()
                    } else {
                        formats().imread(ppm.clone(), &Options::default()).unwrap()
                    };
                    assert_eq!(im.data, expected.data, "thread {t} iteration {i}");
                }
            });
        }
    });
}
