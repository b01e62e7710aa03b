/* dispatch-mailto.h — read a mailto: URI (RFC 6068) into the fields of a message.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *to;       /* comma-separated, as the user would type them; NULL when absent */
  char *cc;
  char *bcc;
  char *subject;
  char *body;     /* line ends normalised to "\n" */
} DispatchMailto;

/* Returns NULL when @uri is not a mailto: URI. Unknown header fields (in-reply-to, …) are
 * ignored; a "to" header adds to the addresses before the "?". */
DispatchMailto *dispatch_mailto_parse (const char     *uri);
void            dispatch_mailto_free  (DispatchMailto *mailto);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchMailto, dispatch_mailto_free)

G_END_DECLS
