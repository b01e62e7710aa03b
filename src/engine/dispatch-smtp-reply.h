/* dispatch-smtp-reply.h — parse SMTP replies (RFC 5321 §4.2) from raw bytes; pure, bounded.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Hard caps: a hostile server cannot make us buffer more than this for one reply. RFC 5321
 * allows 512 octets per reply line; real servers stay far below these numbers. */
#define DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH 4096
#define DISPATCH_SMTP_REPLY_MAX_LINES       128

#define DISPATCH_TYPE_SMTP_REPLY (dispatch_smtp_reply_get_type ())

typedef struct _DispatchSmtpReply DispatchSmtpReply;

GType               dispatch_smtp_reply_get_type       (void) G_GNUC_CONST;

/* Parses one complete reply at the start of @data.
 *   - a whole reply: returns it and sets *@consumed to the bytes it used (CRLF included);
 *   - not complete yet: returns NULL, no error, *@consumed = 0 (read more and call again);
 *   - malformed or over a cap: returns NULL and sets a DISPATCH_ERROR_PROTOCOL error.
 * Lines end in CRLF; a bare LF is accepted as a line end too. */
DispatchSmtpReply  *dispatch_smtp_reply_parse          (const char   *data,
                                                        gsize         length,
                                                        gsize        *consumed,
                                                        GError      **error);

/* Builds a reply by hand (tests, synthetic replies). @lines: the text after "NNN-"/"NNN ". */
DispatchSmtpReply  *dispatch_smtp_reply_new            (guint               code,
                                                        const char * const *lines);

DispatchSmtpReply  *dispatch_smtp_reply_ref            (DispatchSmtpReply *reply);
void                dispatch_smtp_reply_unref          (DispatchSmtpReply *reply);

guint               dispatch_smtp_reply_get_code       (const DispatchSmtpReply *reply);
/* 2, 3, 4 or 5 */
guint               dispatch_smtp_reply_get_class      (const DispatchSmtpReply *reply);
gboolean            dispatch_smtp_reply_is_positive    (const DispatchSmtpReply *reply); /* 2xx, 3xx */
gboolean            dispatch_smtp_reply_is_transient   (const DispatchSmtpReply *reply); /* 4xx */
gboolean            dispatch_smtp_reply_is_permanent   (const DispatchSmtpReply *reply); /* 5xx */

/* The RFC 3463 enhanced status code of the first line ("5.7.8"), when it has one whose class
 * agrees with the reply code; else NULL. */
const char         *dispatch_smtp_reply_get_enhanced_code (const DispatchSmtpReply *reply);

/* The text of each line, as received after "NNN-"/"NNN " (the enhanced code, if any, kept). */
const char * const *dispatch_smtp_reply_get_lines      (const DispatchSmtpReply *reply);
guint               dispatch_smtp_reply_get_n_lines    (const DispatchSmtpReply *reply);

/* Text of all lines with the enhanced codes removed, joined by a space ("Username and Password
 * not accepted. Learn more at …"). Valid UTF-8 (invalid bytes replaced). */
char               *dispatch_smtp_reply_get_text       (const DispatchSmtpReply *reply);

/* The reply as it came over the wire, lines joined by "\n", without the final newline
 * ("535-5.7.8 Username…\n535 5.7.8 …"). Valid UTF-8. */
char               *dispatch_smtp_reply_to_string      (const DispatchSmtpReply *reply);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpReply, dispatch_smtp_reply_unref)

G_END_DECLS
