/* The exported entry point of the PNM plugin's shared library. Kept apart from
 * pnm.c so that pnm.c can be linked into a program as a builtin. */
#include "imageio_plugin.h"

const iio_plugin_v1 *iio_pnm_plugin(const iio_host_v1 *host);

IIO_EXPORT const iio_plugin_v1 *iio_plugin_entry_v1(const iio_host_v1 *host) { return iio_pnm_plugin(host); }
