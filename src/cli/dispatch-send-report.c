/* dispatch-send-report.c — what dispatch-send prints, and the exit status it ends with.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sysexits.h>

#include <glib/gi18n.h>

#include "dispatch-send-options.h"
#include "dispatch-send-report.h"

/* The sysexits.h status for a failure, following msmtp's choices so that scripts written for
 * it keep working. Pure: depends on the error's domain and code only. */
int
dispatch_send_exit_status (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return EX_TEMPFAIL;
  if (error->domain == G_OPTION_ERROR)
    return EX_USAGE;
  if (error->domain == G_FILE_ERROR)
    return EX_NOINPUT;
  if (error->domain != DISPATCH_ERROR)
    return EX_PROTOCOL;

  /* No default: a new engine error code must be given a status here (-Wswitch). */
  switch ((DispatchError) error->code)
    {
    case DISPATCH_ERROR_INVALID_INPUT:
      return EX_DATAERR;
    case DISPATCH_ERROR_FILE:
      return EX_NOINPUT;
    case DISPATCH_ERROR_RECIPIENTS_REFUSED:
      return EX_NOUSER;
    case DISPATCH_ERROR_HOST_NOT_FOUND:
      return EX_NOHOST;
    case DISPATCH_ERROR_UNAVAILABLE:
    case DISPATCH_ERROR_SENDER_REFUSED:
    case DISPATCH_ERROR_MESSAGE_REFUSED:
    case DISPATCH_ERROR_MESSAGE_TOO_LARGE:
      return EX_UNAVAILABLE;
    case DISPATCH_ERROR_TEMPORARY:
    case DISPATCH_ERROR_TIMEOUT:
    case DISPATCH_ERROR_CONNECTION_LOST:
      return EX_TEMPFAIL;
    case DISPATCH_ERROR_PROTOCOL:
    case DISPATCH_ERROR_FAILED:
      return EX_PROTOCOL;
    case DISPATCH_ERROR_AUTH_FAILED:
    case DISPATCH_ERROR_AUTH_UNAVAILABLE:
    case DISPATCH_ERROR_CERTIFICATE_UNTRUSTED:
    case DISPATCH_ERROR_TLS_NOT_OFFERED:
    case DISPATCH_ERROR_TLS_FAILED:
    case DISPATCH_ERROR_STARTTLS_INJECTION:
      return EX_NOPERM;
    }

  return EX_PROTOCOL;
}

/* Server text is printed on a terminal: a hostile server must not be able to send it escape
 * sequences. Control characters other than newline and tab become visible escapes, invalid
 * UTF-8 is replaced, and the trailing line end is dropped. */
char *
dispatch_send_printable (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  GString *shown = g_string_sized_new (strlen (valid));
  const char *p;

  for (p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n' || c == '\t' || !g_unichar_iscntrl (c))
        g_string_append_unichar (shown, c);
      else
        g_string_append_printf (shown, "\\x%02X", c);
    }

  while (shown->len > 0 && shown->str[shown->len - 1] == '\n')
    g_string_truncate (shown, shown->len - 1);

  return g_string_free (shown, FALSE);
}

int
dispatch_send_report_error (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_printerr ("%s: %s\n", PROGRAM_NAME, _("cancelled"));
    }
  else if (error->domain == DISPATCH_ERROR)
    {
      g_autofree char *formatted = dispatch_error_format (error);
      g_autofree char *shown = dispatch_send_printable (formatted);
      const char *fingerprint = dispatch_error_get_fingerprint (error);

      g_printerr ("%s: %s\n", PROGRAM_NAME, shown);

      if (error->code == DISPATCH_ERROR_CERTIFICATE_UNTRUSTED && fingerprint != NULL)
        {
          g_autofree char *shown_fingerprint = dispatch_send_printable (fingerprint);

          g_printerr (_("The server’s certificate has the SHA-256 fingerprint\n  %s\n"),
                      shown_fingerprint);
          /* Translators: the first %s is a fingerprint the user can paste after --pin-sha256. */
          g_printerr (_("If you have checked that this is your server’s certificate, trust it with\n"
                        "  --pin-sha256 %s\n"
                        "or give the certificate of the authority that signed it with --ca-file PEM.\n"),
                      shown_fingerprint);
        }
    }
  else
    {
      g_printerr ("%s: %s\n", PROGRAM_NAME, error->message);
      if (error->domain == G_OPTION_ERROR)
        g_printerr (_("Try “%s --help” for more information.\n"), PROGRAM_NAME);
    }

  return dispatch_send_exit_status (error);
}

static void
print_recipients (const GPtrArray *recipients,
                  gboolean         with_replies)
{
  for (guint i = 0; i < recipients->len; i++)
    {
      const DispatchSmtpRecipient *recipient = g_ptr_array_index (recipients, i);
      g_autofree char *address = dispatch_send_printable (recipient->address);

      if (with_replies && recipient->reply != NULL)
        {
          g_autofree char *reply = dispatch_send_printable (recipient->reply);
          g_auto(GStrv) lines = g_strsplit (reply, "\n", -1);
          g_autofree char *indented = g_strjoinv ("\n      ", lines);

          g_printerr ("  %s\n      %s\n", address, indented);
        }
      else if (with_replies)
        {
          g_printerr ("  %s\n      %s\n", address, _("(no reply)"));
        }
      else
        {
          g_printerr ("  %s\n", address);
        }
    }
}

int
dispatch_send_report_result (const DispatchSmtpResult *result,
               gboolean                  quiet)
{
  if (!quiet && result->final_reply != NULL)
    {
      g_autofree char *reply = dispatch_send_printable (result->final_reply);

      g_print ("%s\n", reply);
    }

  if (result->refused == NULL || result->refused->len == 0)
    return EX_OK;

  g_printerr ("%s: %s\n", PROGRAM_NAME,
              _("some recipients were refused; the message was sent to the others."));
  if (result->accepted != NULL && result->accepted->len > 0)
    {
      g_printerr ("%s\n", _("Accepted:"));
      print_recipients (result->accepted, FALSE);
    }
  g_printerr ("%s\n", _("Refused:"));
  print_recipients (result->refused, TRUE);

  return EX_NOUSER;
}
