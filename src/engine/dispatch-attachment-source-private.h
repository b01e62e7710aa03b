/* dispatch-attachment-source-private.h — an attachment's place in the GMime tree, as base64.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Reads the attachment (dispatch-attachment-private.h) and encodes it straight into the sink
 * (dispatch-message-sink-private.h); the builder puts one source in each attachment part.
 */
#pragma once

#include <gmime/gmime.h>

#include "dispatch-attachment-private.h"
#include "dispatch-message-sink-private.h"

G_BEGIN_DECLS

/* GMime's base64 lines: 57 octets become 76 characters, plus CRLF on the wire. */
#define DISPATCH_BASE64_LINE_RAW   57
#define DISPATCH_BASE64_LINE_WIRE  78

typedef struct _DispatchAttachmentSource DispatchAttachmentSource;

GType        dispatch_attachment_source_get_type  (void);
/* A stream whose content GMime must take as already base64-encoded. */
GMimeStream *dispatch_attachment_source_new       (const DispatchAttachment    *attachment,
                                                   const char                  *name,
                                                   DispatchMessageWriteContext *ctx);

/* The octets @size octets of a file become on the wire: lines of 76 characters from 57 octets
 * each, every line ending in CRLF, only the last one shorter; nothing at all for nothing. */
guint64      dispatch_attachment_source_wire_size (guint64 size);

G_END_DECLS
