/* dispatch-message-private.h — what the message model shares with its checks and its builder.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The message in files by job, each depending only on those below it:
 *
 *   dispatch-message.c            the model: fields, attachments, _prepare(), the public writers
 *     ├─ dispatch-message-checks.c   the one address and header grammar (GMime's parser)
 *     │    └─ dispatch-message-idn.c    ASCII and IDN shortcuts
 *     ├─ dispatch-message-builder.c  the GMime tree of a prepared message, written once
 *     │    ├─ dispatch-attachment-source.c  an attachment part's body, base64 in place
 *     │    │    └─ dispatch-attachment.c      the file: named, sniffed, spooled, read by fd
 *     │    └─ dispatch-message-sink.c     the wire end: dot-stuffing, chunks, progress
 *     └─ dispatch-attachment.c       (inspected at _prepare())
 */
#pragma once

#include <gio/gio.h>
#include <gmime/gmime.h>

#include "dispatch-attachment-private.h"
#include "dispatch-message.h"

G_BEGIN_DECLS

/* GMime 3.2 declares no autoptr cleanups of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMultipart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimePart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeTextPart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeFilter, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeContentType, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (InternetAddressList, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParserOptions, g_mime_parser_options_free)


/* dispatch-message-idn.c */

/* Whether @text (@len octets, or up to its NUL when negative) is 7-bit. */
gboolean             dispatch_message_is_ascii            (const char *text,
                                                           gssize      len);
/* Fills in GMime's IDN form of every address whose domain is ASCII. */
void                 dispatch_message_seed_idn            (InternetAddressList *list);


/* dispatch-message-checks.c */

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


/* dispatch-message.c: what _prepare() decided, frozen. Every write builds a fresh GMime tree
 * from it, so repeated writes are byte-identical and a write never shares GMime objects with
 * another. */

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

void                 dispatch_message_prepared_unref      (DispatchMessagePrepared *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchMessagePrepared, dispatch_message_prepared_unref)


/* dispatch-message-builder.c */

/* The one writer behind _write(), _get_size(), _write_to_file() and _to_string(), so their
 * bytes cannot drift apart. @output NULL only counts (into @out_size): GMime still writes
 * everything but the attachment bodies, whose length follows from the files' sizes.
 * @preview_limit > 0 cuts attachment bodies longer than that, for the message source. */
gboolean             dispatch_message_builder_write       (DispatchMessagePrepared     *p,
                                                           GOutputStream               *output,
                                                           gboolean                     dot_stuff,
                                                           gsize                        preview_limit,
                                                           DispatchMessageProgressFunc  progress,
                                                           gpointer                     progress_data,
                                                           guint64                     *out_size,
                                                           GCancellable                *cancellable,
                                                           GError                     **error);

G_END_DECLS
