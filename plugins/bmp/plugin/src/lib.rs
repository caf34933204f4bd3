//! The BMP plugin built as a shared library: one exported symbol,
//! `iio_plugin_entry_v1`, forwarding to [`imageio_bmp::bmp_plugin`].

imageio_plugin_api::export_entry!(imageio_bmp::bmp_plugin);
