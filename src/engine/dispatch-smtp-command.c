/* dispatch-smtp-command.c — build SMTP command lines (RFC 5321 §4.1); pure, refuse injection.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "dispatch-error.h"
#include "dispatch-smtp-command.h"

/*
 * Every argument here may come from a user, a settings file or a server, and all of them end up
 * inside one CRLF-terminated line. One stray CR or LF would let that text start a command of its
 * own, one space or '>' in a path would let it add parameters. So each builder checks its
 * arguments against the grammar and refuses, never escapes or trims.
 */

#define MAX_DOMAIN_LENGTH 253
#define MAX_LABEL_LENGTH  63
#define MAX_MECHANISM_LENGTH 20

/* How a refused byte is named in an error message. */
static char *
describe_byte (guchar c)
{
  switch (c)
    {
    case '\r':
      return g_strdup ("a carriage return (CR)");
    case '\n':
      return g_strdup ("a line feed (LF)");
    case '\t':
      return g_strdup ("a tab");
    case 0x7f:
      return g_strdup ("a DEL character");
    case ' ':
      return g_strdup ("a space");
    default:
      if (c < 0x20 || c >= 0x80)
        return g_strdup_printf ("the byte 0x%02X", c);
      return g_strdup_printf ("'%c'", c);
    }
}

/* NUL cannot occur inside a C string, so this covers the rest of C0 and DEL. */
static gboolean
check_no_controls (const char  *what,
                   const char  *value,
                   GError     **error)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c < 0x20 || c == 0x7f)
        {
          g_autofree char *name = describe_byte (c);

          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "%s contains %s at offset %u", what, name, (guint) (p - value));
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
is_ascii (const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      if ((guchar) *p >= 0x80)
        return FALSE;
    }

  return TRUE;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3); the general "[tag:content]" form
 * has no registered tags worth sending. */
static gboolean
check_address_literal (const char  *what,
                       const char  *literal,
                       GError     **error)
{
  gsize len = strlen (literal);
  g_autofree char *inner = NULL;
  g_autoptr(GInetAddress) address = NULL;
  const char *text;
  GSocketFamily family;
  const char *allowed;

  if (len < 2 || literal[0] != '[' || literal[len - 1] != ']')
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s is not an address literal: it must be enclosed in '[' and ']'", what);
      return FALSE;
    }

  inner = g_strndup (literal + 1, len - 2);
  if (g_ascii_strncasecmp (inner, "IPv6:", 5) == 0)
    {
      text = inner + 5;
      family = G_SOCKET_FAMILY_IPV6;
      allowed = "0123456789abcdefABCDEF:.";
    }
  else
    {
      text = inner;
      family = G_SOCKET_FAMILY_IPV4;
      allowed = "0123456789.";
    }

  /* The charset check first: the system parser may be more lenient than the grammar (zone
   * indices, for one). */
  if (*text != '\0' && text[strspn (text, allowed)] == '\0')
    address = g_inet_address_new_from_string (text);

  if (address == NULL || g_inet_address_get_family (address) != family)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          family == G_SOCKET_FAMILY_IPV6
                            ? "%s does not hold a valid IPv6 address after \"IPv6:\""
                            : "%s does not hold a valid IPv4 address (IPv6 needs the \"IPv6:\" prefix)",
                          what);
      return FALSE;
    }

  return TRUE;
}

/* A domain name or an address literal. @min_labels is 1 for what the grammar allows and 2 for an
 * FQDN. A numeric last label is refused either way: "192.0.2.1" is an IP address written where a
 * name belongs, and it must be sent as "[192.0.2.1]". */
static gboolean
check_domain (const char  *what,
              const char  *domain,
              guint        min_labels,
              GError     **error)
{
  gsize len;
  guint n_labels = 0;
  const char *label;
  gboolean last_label_numeric = FALSE;

  if (!check_no_controls (what, domain, error))
    return FALSE;

  if (domain[0] == '[')
    return check_address_literal (what, domain, error);

  len = strlen (domain);
  if (len == 0)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s is empty", what);
      return FALSE;
    }
  if (!is_ascii (domain))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s contains non-ASCII characters; use its IDNA (xn--) form", what);
      return FALSE;
    }
  if (len > MAX_DOMAIN_LENGTH)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s is longer than %d characters", what, MAX_DOMAIN_LENGTH);
      return FALSE;
    }

  label = domain;
  for (;;)
    {
      gsize label_len = strcspn (label, ".");
      gboolean numeric = TRUE;

      n_labels++;

      if (label_len == 0)
        {
          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "%s has an empty label (a leading, trailing or doubled dot)", what);
          return FALSE;
        }
      if (label_len > MAX_LABEL_LENGTH)
        {
          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "%s has a label longer than %d characters", what, MAX_LABEL_LENGTH);
          return FALSE;
        }

      for (gsize i = 0; i < label_len; i++)
        {
          if (!g_ascii_isalnum (label[i]) && label[i] != '-')
            {
              g_autofree char *name = describe_byte ((guchar) label[i]);

              dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                                  "%s contains %s, which a domain name cannot hold", what, name);
              return FALSE;
            }
          if (!g_ascii_isdigit (label[i]))
            numeric = FALSE;
        }

      if (label[0] == '-' || label[label_len - 1] == '-')
        {
          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "%s has a label that starts or ends with a hyphen", what);
          return FALSE;
        }

      last_label_numeric = numeric;

      if (label[label_len] == '\0')
        break;
      label += label_len + 1;
    }

  if (n_labels < min_labels)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s is not a fully qualified domain name", what);
      return FALSE;
    }
  if (last_label_numeric)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s looks like an IP address; send it as an address literal (\"[192.0.2.1]\")",
                          what);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_path (const char  *what,
            const char  *path,
            gboolean     allow_utf8,
            GError     **error)
{
  gboolean ascii = TRUE;

  if (!check_no_controls (what, path, error))
    return FALSE;

  for (const char *p = path; *p != '\0'; p++)
    {
      if (*p == ' ' || *p == '<' || *p == '>')
        {
          g_autofree char *name = describe_byte ((guchar) *p);

          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "%s contains %s at offset %u", what, name, (guint) (p - path));
          return FALSE;
        }
      if ((guchar) *p >= 0x80)
        ascii = FALSE;
    }

  if (!ascii && !allow_utf8)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s contains non-ASCII characters, which need SMTPUTF8", what);
      return FALSE;
    }
  if (!ascii && !g_utf8_validate (path, -1, NULL))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s is not valid UTF-8", what);
      return FALSE;
    }

  return TRUE;
}

/* Mailbox = Local-part "@" Domain: the full grammar is GMime's job when the address is read; this
 * only makes sure the envelope is not handed something that is plainly not an address. The last
 * '@' splits, since a quoted local part may hold one. */
static gboolean
check_mailbox (const char  *what,
               const char  *path,
               GError     **error)
{
  const char *at = strrchr (path, '@');

  if (at == NULL || at == path || at[1] == '\0')
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "%s is not of the form local-part@domain", what);
      return FALSE;
    }

  return TRUE;
}

gboolean
dispatch_smtp_path_is_valid (const char *path,
                             gboolean    allow_utf8)
{
  if (path == NULL)
    return FALSE;

  return check_path ("path", path, allow_utf8, NULL);
}

gboolean
dispatch_smtp_is_fqdn (const char *name)
{
  if (name == NULL)
    return FALSE;

  return check_domain ("name", name, 2, NULL);
}

char *
dispatch_smtp_command_ehlo (const char  *domain,
                            GError     **error)
{
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_domain ("EHLO domain", domain, 1, error))
    return NULL;

  return g_strdup_printf ("EHLO %s\r\n", domain);
}

char *
dispatch_smtp_command_helo (const char  *domain,
                            GError     **error)
{
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_domain ("HELO domain", domain, 1, error))
    return NULL;

  return g_strdup_printf ("HELO %s\r\n", domain);
}

char *
dispatch_smtp_command_mail_from (const char        *reverse_path,
                                 guint64            size,
                                 DispatchSmtpBody   body,
                                 gboolean           smtputf8,
                                 GError           **error)
{
  g_autoptr(GString) line = NULL;

  g_return_val_if_fail (reverse_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_path ("MAIL FROM path", reverse_path, smtputf8, error))
    return NULL;
  if (reverse_path[0] != '\0' && !check_mailbox ("MAIL FROM path", reverse_path, error))
    return NULL;

  line = g_string_new ("MAIL FROM:<");
  g_string_append (line, reverse_path);
  g_string_append_c (line, '>');

  if (size > 0)
    g_string_append_printf (line, " SIZE=%" G_GUINT64_FORMAT, size);

  switch (body)
    {
    case DISPATCH_SMTP_BODY_NONE:
      break;
    case DISPATCH_SMTP_BODY_7BIT:
      g_string_append (line, " BODY=7BIT");
      break;
    case DISPATCH_SMTP_BODY_8BITMIME:
      g_string_append (line, " BODY=8BITMIME");
      break;
    case DISPATCH_SMTP_BODY_BINARYMIME:
      g_string_append (line, " BODY=BINARYMIME");
      break;
    default:
      g_return_val_if_reached (NULL);
    }

  if (smtputf8)
    g_string_append (line, " SMTPUTF8");

  g_string_append (line, "\r\n");

  return g_string_free (g_steal_pointer (&line), FALSE);
}

char *
dispatch_smtp_command_rcpt_to (const char  *forward_path,
                               gboolean     smtputf8,
                               GError     **error)
{
  g_return_val_if_fail (forward_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_path ("RCPT TO path", forward_path, smtputf8, error))
    return NULL;
  if (forward_path[0] == '\0')
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "RCPT TO path is empty");
      return NULL;
    }
  /* RFC 5321 §4.1.1.3: "<Postmaster>" is the one recipient without a domain. */
  if (g_ascii_strcasecmp (forward_path, "postmaster") != 0 &&
      !check_mailbox ("RCPT TO path", forward_path, error))
    return NULL;

  return g_strdup_printf ("RCPT TO:<%s>\r\n", forward_path);
}

char *
dispatch_smtp_command_auth (const char  *mechanism,
                            const char  *initial_response,
                            GError     **error)
{
  gsize len;

  g_return_val_if_fail (mechanism != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_no_controls ("AUTH mechanism", mechanism, error))
    return NULL;

  len = strlen (mechanism);
  if (len == 0 || len > MAX_MECHANISM_LENGTH)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          "AUTH mechanism must be 1 to %d characters long", MAX_MECHANISM_LENGTH);
      return NULL;
    }
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isupper (mechanism[i]) && !g_ascii_isdigit (mechanism[i]) &&
          mechanism[i] != '-' && mechanism[i] != '_')
        {
          g_autofree char *name = describe_byte ((guchar) mechanism[i]);

          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "AUTH mechanism contains %s; only A-Z, 0-9, '-' and '_' are allowed",
                              name);
          return NULL;
        }
    }

  if (initial_response == NULL)
    return g_strdup_printf ("AUTH %s\r\n", mechanism);

  if (!check_no_controls ("AUTH initial response", initial_response, error))
    return NULL;

  /* RFC 4954 §4: "=" stands for an empty response; otherwise it is base64, padded. */
  if (strcmp (initial_response, "=") != 0)
    {
      gsize resp_len = strlen (initial_response);
      gsize data_len = resp_len;
      gboolean valid = resp_len > 0 && resp_len % 4 == 0;

      while (valid && data_len > 0 && resp_len - data_len < 2 && initial_response[data_len - 1] == '=')
        data_len--;
      for (gsize i = 0; valid && i < data_len; i++)
        {
          char c = initial_response[i];

          if (!g_ascii_isalnum (c) && c != '+' && c != '/')
            valid = FALSE;
        }

      if (!valid)
        {
          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "AUTH initial response is neither base64 nor \"=\"");
          return NULL;
        }
    }

  return g_strdup_printf ("AUTH %s %s\r\n", mechanism, initial_response);
}

char *
dispatch_smtp_command_bdat (guint64  size,
                            gboolean last)
{
  return g_strdup_printf ("BDAT %" G_GUINT64_FORMAT "%s\r\n", size, last ? " LAST" : "");
}

char *
dispatch_smtp_address_literal (GInetAddress *address)
{
  const guint8 *bytes;
  g_autoptr(GInetAddress) ipv4 = NULL;
  g_autofree char *text = NULL;
  static const guint8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    {
      text = g_inet_address_to_string (address);
      return g_strdup_printf ("[%s]", text);
    }

  /* A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; the server sees an IPv4
   * client, so that is the literal it expects. */
  bytes = g_inet_address_to_bytes (address);
  if (memcmp (bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0)
    {
      ipv4 = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
      text = g_inet_address_to_string (ipv4);
      return g_strdup_printf ("[%s]", text);
    }

  text = g_inet_address_to_string (address);
  return g_strdup_printf ("[IPv6:%s]", text);
}
