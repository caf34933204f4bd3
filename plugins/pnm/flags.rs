/// The C compiler flags every C plugin is built with, shared by
/// this crate's build script and exported as `imageio_pnm::C_PLUGIN_FLAGS`.
pub const C_PLUGIN_FLAGS: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fvisibility=hidden"];
