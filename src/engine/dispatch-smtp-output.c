/* dispatch-smtp-output.c — the connection's output buffer, which lets big writes pass by.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Writes of a buffer's size or more go to the socket directly, after whatever is buffered, as
 * stdio does. The message writer hands over 64 KiB chunks; copying each through another
 * 64 KiB buffer cost a copy of every byte and the buffer's memory, and saved no write.
 */
#include "config.h"

#include "dispatch-smtp-output.h"

struct _DispatchSmtpOutput
{
  GBufferedOutputStream parent_instance;
};

G_DEFINE_FINAL_TYPE (DispatchSmtpOutput, dispatch_smtp_output, G_TYPE_BUFFERED_OUTPUT_STREAM)

static gssize
dispatch_smtp_output_write (GOutputStream  *stream,
                            const void     *buffer,
                            gsize           count,
                            GCancellable   *cancellable,
                            GError        **error)
{
  GOutputStreamClass *parent_class = G_OUTPUT_STREAM_CLASS (dispatch_smtp_output_parent_class);
  GOutputStream *base = g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream));

  if (count < g_buffered_output_stream_get_buffer_size (G_BUFFERED_OUTPUT_STREAM (stream)))
    return parent_class->write_fn (stream, buffer, count, cancellable, error);

  /* The vfunc, not g_output_stream_flush(): this stream is busy with the write. */
  if (!parent_class->flush (stream, cancellable, error))
    return -1;

  return g_output_stream_write (base, buffer, count, cancellable, error);
}

static void
dispatch_smtp_output_class_init (DispatchSmtpOutputClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = dispatch_smtp_output_write;
}

static void
dispatch_smtp_output_init (DispatchSmtpOutput *self)
{
}
