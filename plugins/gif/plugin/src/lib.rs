//! The GIF plugin built as a shared library: one exported symbol,
//! `iio_plugin_entry_v1`, forwarding to [`imageio_gif::gif_plugin`].

imageio_plugin_api::export_entry!(imageio_gif::gif_plugin);
