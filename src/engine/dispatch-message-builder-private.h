/* dispatch-message-builder-private.h — a prepared message, and the one writer that builds and writes it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gmime/gmime.h>

#include "dispatch-message-sink-private.h"

G_BEGIN_DECLS

/* What _prepare() decided, frozen. Every write builds a fresh GMime tree from it, so repeated
 * writes are byte-identical and a write never shares GMime objects with another. Made with
 * g_atomic_rc_box_new0(). */
typedef struct
{
  char                 *from;
  char                 *to;         /* NULL when empty */
  char                 *cc;         /* NULL when empty */
  char                 *subject;    /* NULL when empty */
  GBytes               *text;       /* line ends as text_encoding wants them */
  GMimeContentEncoding  text_encoding;
  GDateTime            *date;
  char                 *message_id; /* without angle brackets */
  char                 *boundary;
  GPtrArray            *attachments; /* DispatchAttachmentInfo */

  char                 *envelope_from;
  GStrv                 envelope_recipients;
  gboolean              needs_8bitmime;
  gboolean              needs_smtputf8;
} DispatchMessagePrepared;

void     dispatch_message_prepared_unref (DispatchMessagePrepared *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchMessagePrepared, dispatch_message_prepared_unref)

/* The one writer behind the model's _write(), _get_size(), _write_to_file() and _to_string(),
 * so their bytes cannot drift apart. @output NULL only counts (into @out_size): GMime still
 * writes everything but the attachment bodies, whose length follows from the files' sizes.
 * @preview_limit > 0 cuts attachment bodies longer than that, for the message source. */
gboolean dispatch_message_builder_write  (DispatchMessagePrepared      *p,
                                          GOutputStream                *output,
                                          gboolean                      dot_stuff,
                                          gsize                         preview_limit,
                                          DispatchMessageSinkProgress   progress,
                                          gpointer                      progress_data,
                                          guint64                      *out_size,
                                          GCancellable                 *cancellable,
                                          GError                      **error);

G_END_DECLS
