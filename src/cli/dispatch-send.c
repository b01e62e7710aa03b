/* dispatch-send.c — send one e-mail from the command line with the Dispatch SMTP engine.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "dispatch-engine.h"

#define PROGRAM_NAME "dispatch-send"

/* Longest password accepted at the terminal prompt; longer input is refused, not truncated. */
#define PROMPT_MAX_LENGTH 1024

typedef struct
{
  char     *server;
  char     *security;
  char     *user;
  char     *password_file;
  char     *password_env;
  char     *oauth2_token_file;
  char     *auth;
  gboolean  allow_plaintext_auth;
  char     *from;
  char    **to;
  char    **cc;
  char    **bcc;
  char     *subject;
  char     *body;
  char     *body_file;
  char    **attach;
  char     *ca_file;
  char     *pin_sha256;
  guint     timeout;           /* 0: the account's default */
  guint     max_time;          /* 0: no limit on the whole send */
  char     *helo;
  gboolean  transcript;
  char     *output;
  gboolean  quiet;
  gboolean  version;
} DispatchSendOptions;

static void
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

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DispatchSendOptions, dispatch_send_options_clear)

/* A heap string holding a password or a token: overwritten before it is freed. */
typedef char DispatchSendSecret;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSendSecret, dispatch_smtp_auth_wipe_string)

/* One send in flight: what the main loop's callbacks share. */
typedef struct
{
  GMainLoop          *loop;          /* borrowed */
  GCancellable       *cancellable;   /* borrowed */
  gboolean            quiet;
  DispatchSmtpResult *result;        /* owned, set by the callback */
  GError             *error;         /* owned, set by the callback */
  gboolean            deadline_hit;  /* --max-time cancelled the send */
} DispatchSendRun;

/* The sysexits.h status for a failure, following msmtp's choices so that scripts written for
 * it keep working. Pure: depends on the error's domain and code only. */
static int
exit_status_for_error (const GError *error)
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
static char *
printable_text (const char *text)
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

static int
report_error (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_printerr ("%s: %s\n", PROGRAM_NAME, _("cancelled"));
    }
  else if (error->domain == DISPATCH_ERROR)
    {
      g_autofree char *formatted = dispatch_error_format (error);
      g_autofree char *shown = printable_text (formatted);
      const char *fingerprint = dispatch_error_get_fingerprint (error);

      g_printerr ("%s: %s\n", PROGRAM_NAME, shown);

      if (error->code == DISPATCH_ERROR_CERTIFICATE_UNTRUSTED && fingerprint != NULL)
        {
          g_autofree char *shown_fingerprint = printable_text (fingerprint);

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

  return exit_status_for_error (error);
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

static GOptionContext *
create_option_context (DispatchSendOptions *options)
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

/* Checks what GOptionContext cannot: required options and combinations. */
static gboolean
check_options (DispatchSendOptions  *options,
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

static gboolean
read_stdin (char   **contents,
            gsize   *length,
            GError **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  char buffer[8192];
  size_t n;

  while ((n = fread (buffer, 1, sizeof buffer, stdin)) > 0)
    g_string_append_len (text, buffer, n);

  if (ferror (stdin))
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Cannot read the text from standard input: %s"), g_strerror (saved_errno));
      return FALSE;
    }

  *length = text->len;
  *contents = g_string_free (g_steal_pointer (&text), FALSE);
  return TRUE;
}

/* The text given by --body or --body-file, or "" without either. */
static char *
read_body (const DispatchSendOptions  *options,
           GError                    **error)
{
  g_autofree char *text = NULL;
  gsize length = 0;

  if (options->body_file == NULL)
    return g_strdup (options->body != NULL ? options->body : "");

  if (g_str_equal (options->body_file, "-"))
    {
      if (!read_stdin (&text, &length, error))
        return NULL;
    }
  else if (!g_file_get_contents (options->body_file, &text, &length, error))
    {
      g_prefix_error (error, "--body-file: ");
      return NULL;
    }

  /* With a length, g_utf8_validate() also rejects NUL bytes, which would cut the text short. */
  if (!g_utf8_validate (text, length, NULL))
    {
      const char *hint = _("Convert it first, for example with iconv -t UTF-8.");
      g_autofree char *name = g_filename_display_name (options->body_file);

      if (g_str_equal (options->body_file, "-"))
        dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE,
                            NULL, hint, _("The text on standard input is not UTF-8."));
      else
        dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE,
                            NULL, hint, _("The text in “%s” is not UTF-8."), name);
      return NULL;
    }

  return g_steal_pointer (&text);
}

/* Builds the message and validates it now, so that a bad address or a missing attachment is
 * reported before a password is asked for or a connection is made. Only the server can say
 * whether an address with non-ASCII letters before the "@" may go (SMTPUTF8), so that is
 * allowed here; the session prepares the message again after EHLO and refuses such an
 * address, naming it, only when the server does not offer SMTPUTF8. */
static DispatchMessage *
build_message (const DispatchSendOptions  *options,
               GError                    **error)
{
  g_autoptr(DispatchMessage) message = dispatch_message_new ();
  g_autofree char *text = NULL;

  dispatch_message_set_from (message, options->from);

  if (options->to != NULL)
    {
      g_autofree char *to = g_strjoinv (", ", options->to);

      dispatch_message_set_to (message, to);
    }
  if (options->cc != NULL)
    {
      g_autofree char *cc = g_strjoinv (", ", options->cc);

      dispatch_message_set_cc (message, cc);
    }
  if (options->bcc != NULL)
    {
      g_autofree char *bcc = g_strjoinv (", ", options->bcc);

      dispatch_message_set_bcc (message, bcc);
    }

  if (options->subject != NULL)
    dispatch_message_set_subject (message, options->subject);

  text = read_body (options, error);
  if (text == NULL)
    return NULL;
  dispatch_message_set_text (message, text);

  for (guint i = 0; options->attach != NULL && options->attach[i] != NULL; i++)
    {
      const char *arg = options->attach[i];

      /* A file name is read directly; only a URI (sftp://…, with GVfs) needs GIO's VFS,
       * which g_file_new_for_commandline_arg() would set up for any argument. */
      if (g_path_is_absolute (arg) || g_uri_peek_scheme (arg) == NULL)
        {
          dispatch_message_add_attachment_path (message, arg);
        }
      else
        {
          g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);

          dispatch_message_add_attachment (message, file);
        }
    }

  if (!dispatch_message_prepare (message, FALSE, TRUE, NULL, error))
    return NULL;

  return g_steal_pointer (&message);
}

static int
write_output (DispatchMessage *message,
              const char      *path)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (path);
  g_autoptr(GError) error = NULL;

  if (dispatch_message_write_to_file (message, file, NULL, &error))
    return EX_OK;

  if (error->domain == DISPATCH_ERROR)
    return report_error (error);

  g_printerr ("%s: %s\n", PROGRAM_NAME, error->message);
  return EX_CANTCREAT;
}

static DispatchAccount *
build_account (const DispatchSendOptions  *options,
               GError                    **error)
{
  g_autoptr(DispatchAccount) account = dispatch_account_new ();
  g_autoptr(GSocketConnectable) address = NULL;
  g_autoptr(GError) local_error = NULL;
  DispatchSmtpSecurity security = DISPATCH_SMTP_SECURITY_STARTTLS;
  const char *host;

  /* Port 0 when none is given, so that the account picks the security mode's default. */
  address = g_network_address_parse (options->server, 0, &local_error);
  if (address == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("Invalid --server “%s”: %s"), options->server, local_error->message);
      return NULL;
    }

  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (address));
  if (host[0] == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("Invalid --server “%s”: the host name is missing."), options->server);
      return NULL;
    }

  if (options->security != NULL &&
      !dispatch_smtp_security_from_string (options->security, &security))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("Unknown --security “%s”: use starttls, tls or none."), options->security);
      return NULL;
    }

  dispatch_account_set_host (account, host);
  dispatch_account_set_port (account, g_network_address_get_port (G_NETWORK_ADDRESS (address)));
  dispatch_account_set_security (account, security);
  dispatch_account_set_user (account, options->user);
  dispatch_account_set_auth_mechanism (account, options->auth);
  dispatch_account_set_allow_plaintext_auth (account, options->allow_plaintext_auth);
  if (options->timeout > 0)
    dispatch_account_set_timeout (account, options->timeout);
  dispatch_account_set_ca_file (account, options->ca_file);
  dispatch_account_set_pinned_sha256 (account, options->pin_sha256);
  dispatch_account_set_helo_name (account, options->helo);

  /* The account reports bad fields as input errors; here they came from options. */
  if (!dispatch_account_validate (account, &local_error))
    {
      g_autofree char *formatted = dispatch_error_format (local_error);

      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, formatted);
      return NULL;
    }

  /* Caught now rather than as a TLS failure after connecting. */
  if (options->ca_file != NULL && g_access (options->ca_file, R_OK) != 0)
    {
      int saved_errno = errno;
      g_autofree char *name = g_filename_display_name (options->ca_file);

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Cannot read the CA file “%s”: %s"), name, g_strerror (saved_errno));
      return NULL;
    }

  return g_steal_pointer (&account);
}

/* As ssh does for a private key: a secret in a file that other users may read is used, but
 * not silently. Only regular files: a pipe (--password-file <(pass show …)) has no such
 * mode to fix. */
static void
warn_if_others_can_read (const char *option,
                         const char *path)
{
  g_autofree char *name = NULL;
  GStatBuf st;

  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode) || (st.st_mode & 0077) == 0)
    return;

  name = g_filename_display_name (path);
  g_printerr ("%s: ", PROGRAM_NAME);
  /* Translators: the first %s is an option (--password-file), then its file name, the mode
   * in octal (0644), and the file name again in the command that fixes it. */
  g_printerr (_("warning: %s “%s” can be read by other users (mode %04o); run chmod 600 “%s”\n"),
              option, name, (guint) (st.st_mode & 07777), name);
}

/* The first line of @path without its line end, as written by `echo secret > file` or by a
 * secret manager. The whole buffer is wiped, not only the line. */
static char *
read_secret_file (const char  *option,
                  const char  *path,
                  GError     **error)
{
  char *contents = NULL;
  gsize length = 0;
  const char *newline;
  gsize line_length;
  char *secret;

  if (!g_file_get_contents (path, &contents, &length, error))
    {
      g_prefix_error (error, "%s: ", option);
      return NULL;
    }

  warn_if_others_can_read (option, path);

  newline = memchr (contents, '\n', length);
  line_length = newline != NULL ? (gsize) (newline - contents) : length;
  while (line_length > 0 && contents[line_length - 1] == '\r')
    line_length--;

  secret = g_strndup (contents, line_length);
  explicit_bzero (contents, length);
  g_free (contents);

  return secret;
}

static volatile sig_atomic_t prompt_interrupted;

static void
on_prompt_signal (int signum)
{
  prompt_interrupted = 1;
}

static void
write_to_terminal (int         fd,
                   const char *utf8)
{
  g_autofree char *local = g_locale_from_utf8 (utf8, -1, NULL, NULL, NULL);
  const char *text = local != NULL ? local : utf8;
  gsize length = strlen (text);

  while (length > 0)
    {
      ssize_t n = write (fd, text, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      text += n;
      length -= (gsize) n;
    }
}

/* Asks on the controlling terminal rather than on stdin/stdout, so that a piped body or a
 * captured stdout never sees the prompt. Echo goes off, but Ctrl+C keeps working: its handler
 * only interrupts the read, so the terminal is always given its echo back. */
static char *
prompt_password (const char  *user,
                 const char  *host,
                 GError     **error)
{
  g_autofree char *prompt = NULL;
  struct termios saved_termios;
  struct termios silent_termios;
  struct sigaction interrupt_action;
  struct sigaction saved_sigint;
  struct sigaction saved_sigterm;
  char buffer[PROMPT_MAX_LENGTH];
  gsize length = 0;
  gboolean too_long = FALSE;
  int read_errno = 0;
  char c = '\0';
  char *password = NULL;
  int fd;

  fd = g_open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0 || tcgetattr (fd, &saved_termios) != 0)
    {
      if (fd >= 0)
        close (fd);
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("There is no terminal to ask for the password: "
                             "use --password-file or --password-env."));
      return NULL;
    }

  /* Translators: the prompt for the password, "ann@smtp.example.org". */
  prompt = g_strdup_printf (_("Password for %s@%s: "), user, host);
  write_to_terminal (fd, prompt);

  memset (&interrupt_action, 0, sizeof interrupt_action);
  interrupt_action.sa_handler = on_prompt_signal;
  sigemptyset (&interrupt_action.sa_mask);
  /* Deliberately without SA_RESTART: read() must return with EINTR. */
  interrupt_action.sa_flags = 0;
  prompt_interrupted = 0;
  sigaction (SIGINT, &interrupt_action, &saved_sigint);
  sigaction (SIGTERM, &interrupt_action, &saved_sigterm);

  silent_termios = saved_termios;
  silent_termios.c_lflag &= ~(tcflag_t) ECHO;
  tcsetattr (fd, TCSAFLUSH, &silent_termios);

  while (!prompt_interrupted)
    {
      ssize_t n = read (fd, &c, 1);

      if (n == 1)
        {
          if (c == '\n')
            break;
          if (length < sizeof buffer)
            buffer[length++] = c;
          else
            too_long = TRUE;
        }
      else if (n == 0)
        {
          break;
        }
      else if (errno != EINTR)
        {
          read_errno = errno;
          break;
        }
    }

  tcsetattr (fd, TCSAFLUSH, &saved_termios);
  sigaction (SIGINT, &saved_sigint, NULL);
  sigaction (SIGTERM, &saved_sigterm, NULL);
  /* The user's Enter was not echoed. */
  write_to_terminal (fd, "\n");
  close (fd);

  if (prompt_interrupted)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("cancelled"));
  else if (read_errno != 0)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (read_errno),
                 _("Cannot read the password from the terminal: %s"), g_strerror (read_errno));
  else if (too_long)
    dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_AUTH, NULL,
                        _("Use --password-file for a longer password."),
                        _("The password is longer than %d bytes."), PROMPT_MAX_LENGTH);
  else
    password = g_strndup (buffer, length);

  explicit_bzero (buffer, sizeof buffer);
  explicit_bzero (&c, sizeof c);

  return password;
}

/* Gathers the password and the OAuth2 token the options call for. Neither is ever put in an
 * error message: only file names and variable names are. */
static gboolean
read_secrets (const DispatchSendOptions  *options,
              DispatchAccount            *account,
              char                      **out_password,
              char                      **out_token,
              GError                    **error)
{
  g_autoptr(DispatchSendSecret) password = NULL;
  g_autoptr(DispatchSendSecret) token = NULL;

  if (options->oauth2_token_file != NULL)
    {
      token = read_secret_file ("--oauth2-token-file", options->oauth2_token_file, error);
      if (token == NULL)
        return FALSE;
    }

  if (options->password_file != NULL)
    {
      password = read_secret_file ("--password-file", options->password_file, error);
      if (password == NULL)
        return FALSE;
    }
  else if (options->password_env != NULL)
    {
      const char *value = g_getenv (options->password_env);

      if (value == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--password-env: the environment variable “%s” is not set."),
                       options->password_env);
          return FALSE;
        }
      password = g_strdup (value);
    }
  else if (options->user != NULL && token == NULL)
    {
      if (!isatty (STDIN_FILENO))
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               _("--user needs a password: give --password-file or --password-env, "
                                 "or run dispatch-send on a terminal to be asked for it."));
          return FALSE;
        }

      password = prompt_password (options->user, dispatch_account_get_host (account), error);
      if (password == NULL)
        return FALSE;
    }

  *out_password = g_steal_pointer (&password);
  *out_token = g_steal_pointer (&token);
  return TRUE;
}

static void
on_transcript (DispatchSmtpSession   *session,
               DispatchSmtpDirection  direction,
               const char            *line,
               gpointer               user_data)
{
  g_autofree char *shown = printable_text (line);
  const char *prefix;

  switch (direction)
    {
    case DISPATCH_SMTP_DIRECTION_CLIENT:
      prefix = "C: ";
      break;
    case DISPATCH_SMTP_DIRECTION_SERVER:
      prefix = "S: ";
      break;
    case DISPATCH_SMTP_DIRECTION_INFO:
    default:
      prefix = "*  ";
      break;
    }

  g_printerr ("%s%s\n", prefix, shown);
}

static gboolean
on_interrupt (gpointer user_data)
{
  DispatchSendRun *run = user_data;

  if (g_cancellable_is_cancelled (run->cancellable))
    {
      /* A second Ctrl+C: the user will not wait for QUIT. _exit() because the worker thread
       * may still be inside GnuTLS, which exit()'s destructors would tear down under it. */
      g_printerr ("%s: %s\n", PROGRAM_NAME, _("cancelled"));
      _exit (EX_TEMPFAIL);
    }

  if (!run->quiet)
    g_printerr (_("Cancelling… (press Ctrl+C again to quit at once)\n"));
  g_cancellable_cancel (run->cancellable);

  return G_SOURCE_CONTINUE;
}

/* --max-time: cancelling lets the engine stop wherever it waits; what the result then says is
 * decided in send_message(). */
static gboolean
on_deadline (gpointer user_data)
{
  DispatchSendRun *run = user_data;

  run->deadline_hit = TRUE;
  g_cancellable_cancel (run->cancellable);

  return G_SOURCE_REMOVE;
}

static void
on_send_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  DispatchSendRun *run = user_data;

  run->result = dispatch_smtp_session_send_finish (DISPATCH_SMTP_SESSION (source), result,
                                                   &run->error);
  g_main_loop_quit (run->loop);
}

static void
print_recipients (const GPtrArray *recipients,
                  gboolean         with_replies)
{
  for (guint i = 0; i < recipients->len; i++)
    {
      const DispatchSmtpRecipient *recipient = g_ptr_array_index (recipients, i);
      g_autofree char *address = printable_text (recipient->address);

      if (with_replies && recipient->reply != NULL)
        {
          g_autofree char *reply = printable_text (recipient->reply);
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

static int
report_result (const DispatchSmtpResult *result,
               gboolean                  quiet)
{
  if (!quiet && result->final_reply != NULL)
    {
      g_autofree char *reply = printable_text (result->final_reply);

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

static int
send_message (const DispatchSendOptions  *options,
              DispatchAccount            *account,
              DispatchMessage            *message,
              char                      **password,
              char                      **token)
{
  g_autoptr(DispatchSmtpSession) session = dispatch_smtp_session_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(DispatchSmtpResult) result = NULL;
  g_autoptr(GError) error = NULL;
  DispatchSendRun run = { loop, cancellable, options->quiet, NULL, NULL, FALSE };
  guint sigint_id;
  guint sigterm_id;
  guint deadline_id = 0;

  if (options->transcript)
    g_signal_connect (session, "transcript", G_CALLBACK (on_transcript), NULL);

  /* Cancelling lets the engine say QUIT instead of dropping the connection. */
  sigint_id = g_unix_signal_add (SIGINT, on_interrupt, &run);
  sigterm_id = g_unix_signal_add (SIGTERM, on_interrupt, &run);

  if (options->max_time > 0)
    deadline_id = g_timeout_add_seconds (options->max_time, on_deadline, &run);

  dispatch_smtp_session_send_async (session, account, *password, *token, message, cancellable,
                                    on_send_done, &run);

  /* The session took copies; ours are not needed any longer. */
  g_clear_pointer (password, dispatch_smtp_auth_wipe_string);
  g_clear_pointer (token, dispatch_smtp_auth_wipe_string);

  g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (deadline_id != 0 && !run.deadline_hit)
    g_source_remove (deadline_id);

  result = g_steal_pointer (&run.result);
  error = g_steal_pointer (&run.error);

  /* A message the server accepted (its final 250) comes back as a result, however late. */
  if (result == NULL && run.deadline_hit &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_printerr ("%s: ", PROGRAM_NAME);
      /* Translators: %u is the number of seconds given with --max-time */
      g_printerr (_("the send did not finish within --max-time (%u s); the message was not sent.\n"),
                  options->max_time);
      return EX_TEMPFAIL;
    }

  if (result == NULL)
    return report_error (error);

  return report_result (result, options->quiet);
}

int
main (int   argc,
      char *argv[])
{
  g_auto(DispatchSendOptions) options = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DispatchMessage) message = NULL;
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchSendSecret) password = NULL;
  g_autoptr(DispatchSendSecret) token = NULL;

  /* Before the engine, so that its translated messages follow the user's locale. */
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname (PROGRAM_NAME);

  dispatch_engine_init ();

  context = create_option_context (&options);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return report_error (error);

  if (options.version)
    {
      g_print ("%s %s\n", PROGRAM_NAME, PACKAGE_VERSION);
      return EX_OK;
    }

  if (!check_options (&options, argc, argv, &error))
    return report_error (error);

  message = build_message (&options, &error);
  if (message == NULL)
    return report_error (error);

  if (options.output != NULL)
    return write_output (message, options.output);

  account = build_account (&options, &error);
  if (account == NULL)
    return report_error (error);

  if (!read_secrets (&options, account, &password, &token, &error))
    return report_error (error);

  return send_message (&options, account, message, &password, &token);
}
