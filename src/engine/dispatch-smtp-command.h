/* dispatch-smtp-command.h — build SMTP command lines (RFC 5321 §4.1); pure, refuse injection.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* MAIL FROM BODY= parameter (RFC 6152 / RFC 3030). */
typedef enum
{
  DISPATCH_SMTP_BODY_NONE,        /* no BODY= parameter: a 7-bit message */
  DISPATCH_SMTP_BODY_7BIT,
  DISPATCH_SMTP_BODY_8BITMIME,
  DISPATCH_SMTP_BODY_BINARYMIME,
} DispatchSmtpBody;

/* Every builder returns a newly allocated line ending in CRLF, or NULL with a
 * DISPATCH_ERROR_INVALID_INPUT error when an argument holds CR, LF, NUL, another control
 * character, or anything else its grammar does not allow. Nothing is ever escaped
 * silently. */

/* @domain: a domain name or an address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]"). */
char     *dispatch_smtp_command_ehlo        (const char       *domain,
                                             GError          **error);
char     *dispatch_smtp_command_helo        (const char       *domain,
                                             GError          **error);

/* MAIL FROM:<@reverse_path> [SIZE=@size] [BODY=…] [SMTPUTF8]. @reverse_path may be "" (null
 * sender). @size 0 leaves SIZE= out. A non-ASCII path is refused unless @smtputf8. */
char     *dispatch_smtp_command_mail_from   (const char       *reverse_path,
                                             guint64           size,
                                             DispatchSmtpBody  body,
                                             gboolean          smtputf8,
                                             GError          **error);

/* RCPT TO:<@forward_path>. A non-ASCII path is refused unless @smtputf8. */
char     *dispatch_smtp_command_rcpt_to     (const char       *forward_path,
                                             gboolean          smtputf8,
                                             GError          **error);

/* AUTH @mechanism [@initial_response]. @initial_response is base64 (may be "=" for an empty
 * one, RFC 4954 §4) or NULL for none. */
char     *dispatch_smtp_command_auth        (const char       *mechanism,
                                             const char       *initial_response,
                                             GError          **error);

/* BDAT @size [LAST] (RFC 3030). */
char     *dispatch_smtp_command_bdat        (guint64           size,
                                             gboolean          last);

#define DISPATCH_SMTP_COMMAND_STARTTLS "STARTTLS\r\n"
#define DISPATCH_SMTP_COMMAND_DATA     "DATA\r\n"
#define DISPATCH_SMTP_COMMAND_RSET     "RSET\r\n"
#define DISPATCH_SMTP_COMMAND_QUIT     "QUIT\r\n"
#define DISPATCH_SMTP_DATA_END         ".\r\n"

/* The EHLO argument for a local address (RFC 5321 §4.1.3): "[127.0.0.1]", "[IPv6:::1]". */
char     *dispatch_smtp_address_literal     (GInetAddress     *address);

/* TRUE when @name is a syntactically valid domain for EHLO (letters, digits, hyphens, dots,
 * at least one dot or an address literal). "localhost" and bare hostnames are not FQDNs. */
gboolean  dispatch_smtp_is_fqdn             (const char       *name);

/* TRUE when the mailbox/path text is safe to put between < and > (no CR, LF, NUL, controls,
 * spaces, angle brackets); @allow_utf8 permits non-ASCII UTF-8. */
gboolean  dispatch_smtp_path_is_valid       (const char       *path,
                                             gboolean          allow_utf8);

G_END_DECLS
