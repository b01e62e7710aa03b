/* dispatch-send-options.c — dispatch-send's command line: the options and what they require.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-auth.h"
#include "dispatch-send-options.h"

void
dispatch_send_options_clear (DispatchSendOptions *options)
{
  g_clear_pointer (&options->server, g_free);
  g_clear_pointer (&options->security, g_free);
  g_clear_pointer (&options->user, g_free);
  g_clear_pointer (&options->password_file, g_free);
  g_clear_pointer (&options->password_env, g_free);
  g_clear_pointer (&options->oauth2_token_file, g_free);
  g_clear_pointer (&options->auth, g_free);
  g_clear_pointer (&options->from, g_free);
  g_clear_pointer (&options->to, g_strfreev);
  g_clear_pointer (&options->cc, g_strfreev);
  g_clear_pointer (&options->bcc, g_strfreev);
  g_clear_pointer (&options->subject, g_free);
  g_clear_pointer (&options->body, g_free);
  g_clear_pointer (&options->body_file, g_free);
  g_clear_pointer (&options->attach, g_strfreev);
  g_clear_pointer (&options->ca_file, g_free);
  g_clear_pointer (&options->pin_sha256, g_free);
  g_clear_pointer (&options->helo, g_free);
  g_clear_pointer (&options->output, g_free);
}


static gboolean
parse_seconds (const char  *option_name,
               const char  *value,
               gpointer     data,
               GError     **error)
{
  DispatchSendOptions *options = data;
  guint64 seconds = 0;

  /* A day is far beyond any real server's patience; the cap only catches typos. */
  if (!g_ascii_string_to_unsigned (value, 10, 1, 24 * 60 * 60, &seconds, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   /* Translators: the first %s is the option, --timeout or --max-time */
                   _("%s must be a number of seconds from 1 to 86400, not “%s”."),
                   option_name, value);
      return FALSE;
    }

  if (g_str_equal (option_name, "--max-time"))
    options->max_time = (guint) seconds;
  else
    options->timeout = (guint) seconds;
  return TRUE;
}

GOptionContext *
dispatch_send_options_create_context (DispatchSendOptions *options)
{
  const GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &options->server,
      N_("SMTP server, with an optional port; an IPv6 address goes in brackets ([::1]:2525)"),
      N_("HOST[:PORT]") },
    { "security", 0, 0, G_OPTION_ARG_STRING, &options->security,
      N_("starttls (default, port 587), tls (implicit TLS, port 465) or none (port 25)"),
      N_("MODE") },
    { "user", 0, 0, G_OPTION_ARG_STRING, &options->user,
      N_("Authenticate as NAME; without it, no authentication"), N_("NAME") },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &options->password_file,
      N_("Read the password from the first line of FILE"), N_("FILE") },
    { "password-env", 0, 0, G_OPTION_ARG_STRING, &options->password_env,
      N_("Read the password from the environment variable VAR"), N_("VAR") },
    { "oauth2-token-file", 0, 0, G_OPTION_ARG_FILENAME, &options->oauth2_token_file,
      N_("Authenticate with XOAUTH2, using the bearer token on the first line of FILE"),
      N_("FILE") },
    { "auth", 0, 0, G_OPTION_ARG_STRING, &options->auth,
      N_("Use this SASL mechanism (PLAIN, LOGIN, CRAM-MD5, XOAUTH2) instead of the best one offered"),
      N_("MECH") },
    { "allow-plaintext-auth", 0, 0, G_OPTION_ARG_NONE, &options->allow_plaintext_auth,
      N_("Allow authentication on a connection without TLS (only for a trusted network)"), NULL },
    { "from", 0, 0, G_OPTION_ARG_STRING, &options->from,
      N_("Sender address (required)"), N_("ADDR") },
    { "to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->to,
      N_("Recipient; repeat it or give a comma-separated list"), N_("ADDR") },
    { "cc", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->cc,
      N_("Carbon-copy recipient; may be repeated"), N_("ADDR") },
    { "bcc", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->bcc,
      N_("Blind-copy recipient, kept out of the headers; may be repeated"), N_("ADDR") },
    { "subject", 0, 0, G_OPTION_ARG_STRING, &options->subject,
      N_("Subject line"), N_("TEXT") },
    { "body", 0, 0, G_OPTION_ARG_STRING, &options->body,
      N_("Message text"), N_("TEXT") },
    { "body-file", 0, 0, G_OPTION_ARG_FILENAME, &options->body_file,
      N_("Read the message text (UTF-8) from FILE, or from standard input for -"), N_("FILE") },
    { "attach", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->attach,
      N_("Attach FILE; may be repeated"), N_("FILE") },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &options->ca_file,
      N_("Trust the CA certificates in PEM instead of the system’s"), N_("PEM") },
    { "pin-sha256", 0, 0, G_OPTION_ARG_STRING, &options->pin_sha256,
      N_("Trust the one server certificate with this SHA-256 fingerprint"), N_("HEX") },
    { "timeout", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_seconds,
      N_("Give up when the server has not answered for SECONDS (default 60)"), N_("SECONDS") },
    { "max-time", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_seconds,
      N_("Give up when the whole send has taken SECONDS (default: no limit)"), N_("SECONDS") },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &options->helo,
      N_("Name to give in EHLO (default: this machine’s domain name or address)"), N_("NAME") },
    { "transcript", 0, 0, G_OPTION_ARG_NONE, &options->transcript,
      N_("Show the SMTP dialogue on standard error (passwords hidden)"), NULL },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &options->output,
      N_("Write the message to FILE.eml instead of sending it"), N_("FILE.eml") },
    { "quiet", 0, 0, G_OPTION_ARG_NONE, &options->quiet,
      N_("Do not print the server’s final reply"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options->version,
      N_("Show the version and exit"), NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionContext *context;
  GOptionGroup *group;

  /* Translators: shown after "Usage: dispatch-send [OPTION…]". */
  context = g_option_context_new (_("— send one e-mail over SMTP"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);

  /* A group of our own rather than add_main_entries(): only a group carries the user data
   * that the --timeout and --max-time callbacks need. */
  group = g_option_group_new (PROGRAM_NAME, NULL, NULL, options, NULL);
  g_option_group_add_entries (group, entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_context_set_main_group (context, group);

  g_option_context_set_summary (context,
    _("Sends one message to an SMTP submission server with the engine of the Dispatch\n"
      "application: STARTTLS or TLS with full certificate checks, authentication, MIME\n"
      "attachments.\n"
      "\n"
      "The password is read from --password-file, from the variable named by --password-env,\n"
      "or asked for on the terminal; it is never taken from the command line.\n"
      "\n"
      "Examples:\n"
      "  dispatch-send --server smtp.example.org --user ann --from ann@example.org \\\n"
      "      --to bob@example.org --subject Hello --body-file note.txt --attach photo.jpg\n"
      "  dispatch-send --server [::1]:2525 --security none --transcript \\\n"
      "      --from ann@example.org --to bob@example.org --body Test\n"
      "  dispatch-send --from ann@example.org --to bob@example.org --output message.eml"));

  g_option_context_set_description (context,
    _("Exit status:\n"
      "   0  the message was sent (or written with --output)\n"
      "  64  wrong or missing options\n"
      "  65  bad input data: an address or a header field\n"
      "  66  a body, password, token, CA or attachment file cannot be read\n"
      "  67  some or all recipients were refused\n"
      "  68  the server name was not found\n"
      "  69  the server is unavailable, or refused the sender or the message\n"
      "  73  the --output file cannot be written\n"
      "  75  temporary failure, timeout, lost connection or cancelled: try again later\n"
      "  76  the server broke the protocol, or another failure\n"
      "  77  authentication or TLS failed (certificate, STARTTLS)\n"));

  return context;
}

gboolean
dispatch_send_options_check (DispatchSendOptions  *options,
               int                   argc,
               char                **argv,
               GError              **error)
{
  if (argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("Unexpected argument “%s”: recipients go after --to."), argv[1]);
      return FALSE;
    }

  if (options->from == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("--from is required."));
      return FALSE;
    }

  if (options->to == NULL && options->cc == NULL && options->bcc == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("At least one recipient is required (--to, --cc or --bcc)."));
      return FALSE;
    }

  if (options->body != NULL && options->body_file != NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("Give the text with --body or with --body-file, not both."));
      return FALSE;
    }

  if (options->output != NULL)
    return TRUE;

  if (options->server == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("--server is required, unless --output writes the message to a file."));
      return FALSE;
    }

  if (options->user != NULL && options->user[0] == '\0')
    g_clear_pointer (&options->user, g_free);

  if (options->password_file != NULL && options->password_env != NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("Give the password with --password-file or with --password-env, not both."));
      return FALSE;
    }

  if (options->user == NULL &&
      (options->password_file != NULL || options->password_env != NULL ||
       options->oauth2_token_file != NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("%s needs --user."),
                   options->password_file != NULL ? "--password-file" :
                   options->password_env != NULL ? "--password-env" : "--oauth2-token-file");
      return FALSE;
    }

  if (options->auth != NULL)
    {
      char *upper = g_ascii_strup (options->auth, -1);

      g_free (options->auth);
      options->auth = upper;

      if (!dispatch_smtp_auth_is_supported (options->auth))
        {
          g_autofree char *supported = g_strjoinv (", ", (char **) dispatch_smtp_auth_get_supported ());

          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("Unknown --auth mechanism “%s”; dispatch-send knows %s."),
                       options->auth, supported);
          return FALSE;
        }

      if (g_str_equal (options->auth, "XOAUTH2") && options->oauth2_token_file == NULL)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               _("--auth XOAUTH2 needs --oauth2-token-file."));
          return FALSE;
        }
    }

  return TRUE;
}
