/* dispatch-message-checks.h — the one address and header grammar, for a form's live checks.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  DISPATCH_MESSAGE_FIELD_FROM,
  DISPATCH_MESSAGE_FIELD_TO,
  DISPATCH_MESSAGE_FIELD_CC,
  DISPATCH_MESSAGE_FIELD_BCC,
} DispatchMessageAddressField;

/* Checks one address field as it is typed, by the rules _prepare() applies (GMime's parser:
 * groups, comments, quoted names), so that a form can say at once what a send would refuse.
 * A blank field is valid with no address. Sets @n_addresses to the number of mailboxes, group
 * members included; FALSE with the same DISPATCH_ERROR_INVALID_INPUT error as _prepare().
 * International local parts are accepted: whether a server takes them is known only then. */
gboolean dispatch_message_check_address_field (DispatchMessageAddressField   field,
                                               const char                   *text,
                                               guint                        *n_addresses,
                                               GError                      **error);

G_END_DECLS
