/* Prints sizeof/offsetof of every ABI struct as the C compiler sees them; a
 * Rust test compares them with size_of/offset_of!. */
#include "imageio_plugin.h"
#include <stdio.h>
#define S(t) printf(#t " size %zu\n", sizeof(t))
#define O(t, f) printf(#t "." #f " %zu\n", offsetof(t, f))
int main(void) {
  S(iio_str); S(iio_error); S(iio_value); S(iio_kv); S(iio_stream); S(iio_request); S(iio_image_sink);
  S(iio_array_view); S(iio_host_v1); S(iio_format_v1); S(iio_plugin_v1); S(iio_limits); S(iio_signature);
  O(iio_value, f); O(iio_value, ptr); O(iio_value, len); O(iio_kv, value);
  O(iio_stream, ctx); O(iio_stream, read); O(iio_stream, seek); O(iio_stream, size_hint);
  O(iio_request, io_mode); O(iio_request, image_mode); O(iio_request, stream); O(iio_request, uri);
  O(iio_request, extension); O(iio_request, first_bytes); O(iio_request, options); O(iio_request, host_ctx);
  O(iio_request, get_local_filename); O(iio_image_sink, alloc); O(iio_image_sink, set_meta);
  O(iio_array_view, shape); O(iio_array_view, data); O(iio_host_v1, log); O(iio_host_v1, log_max_level);
  O(iio_format_v1, name); O(iio_format_v1, modes); O(iio_format_v1, can_read); O(iio_format_v1, open);
  O(iio_format_v1, get_data); O(iio_format_v1, set_meta_data); O(iio_plugin_v1, id); O(iio_plugin_v1, formats);
  O(iio_plugin_v1, format_count); O(iio_request, limits); O(iio_format_v1, signatures);
  O(iio_format_v1, signature_count); O(iio_limits, max_width); O(iio_limits, max_meta_total_bytes);
  O(iio_signature, bytes); O(iio_signature, mask); O(iio_signature, len);
  return 0;
}
