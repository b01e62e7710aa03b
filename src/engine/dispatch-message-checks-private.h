/* dispatch-message-checks-private.h — the address and header grammar as the message files use it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dispatch-message-checks.h is what a form may call; this is what _prepare() and the builder
 * need besides: the parsed lists themselves.
 */
#pragma once

#include <gmime/gmime.h>

#include "dispatch-message-checks.h"

G_BEGIN_DECLS

/* Every field a message has, for error messages; the address fields match
 * DispatchMessageAddressField. */
typedef enum
{
  FIELD_FROM,
  FIELD_TO,
  FIELD_CC,
  FIELD_BCC,
  FIELD_SUBJECT,
} MessageField;

/* The field's name as the compose window labels it, translated. */
const char          *dispatch_message_field_label         (MessageField field);
/* NULL, empty or white space only. */
gboolean             dispatch_message_is_blank            (const char *text);
/* A header's text: no line break, valid UTF-8. */
gboolean             dispatch_message_check_header_text   (MessageField   field,
                                                           const char    *value,
                                                           GError       **error);
/* Parses and validates one address field; a blank field gives a NULL list. @uses_utf8 is set
 * when an address needs SMTPUTF8, which fails unless @allow_utf8_headers. */
gboolean             dispatch_message_parse_address_field (MessageField          field,
                                                           const char           *text,
                                                           gboolean              allow_utf8_headers,
                                                           InternetAddressList **out_list,
                                                           gboolean             *uses_utf8,
                                                           GError              **error);
/* GMime's parse of an address list, with "=?" in names and addresses taken literally, not as
 * RFC 2047 words. @bad_item: the first part GMime skipped, or NULL. */
InternetAddressList *dispatch_message_parse_address_list  (const char  *text,
                                                           char       **bad_item);
/* Envelope recipients: mailboxes and group members, in order, each address once. */
void                 dispatch_message_collect_recipients  (InternetAddressList *list,
                                                           GHashTable          *seen,
                                                           GPtrArray           *recipients);

G_END_DECLS
