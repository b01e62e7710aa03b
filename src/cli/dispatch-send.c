/* dispatch-send.c — send one e-mail from the command line with the Dispatch SMTP engine.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-auth.h"
#include "dispatch-send-options.h"
#include "dispatch-send-report.h"
#include "dispatch-send-secrets.h"

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
    return dispatch_send_report_error (error);

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
static void
on_transcript (DispatchSmtpSession   *session,
               DispatchSmtpDirection  direction,
               const char            *line,
               gpointer               user_data)
{
  g_autofree char *shown = dispatch_send_printable (line);
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
    return dispatch_send_report_error (error);

  return dispatch_send_report_result (result, options->quiet);
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

  context = dispatch_send_options_create_context (&options);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return dispatch_send_report_error (error);

  if (options.version)
    {
      g_print ("%s %s\n", PROGRAM_NAME, PACKAGE_VERSION);
      return EX_OK;
    }

  if (!dispatch_send_options_check (&options, argc, argv, &error))
    return dispatch_send_report_error (error);

  message = build_message (&options, &error);
  if (message == NULL)
    return dispatch_send_report_error (error);

  if (options.output != NULL)
    return write_output (message, options.output);

  account = build_account (&options, &error);
  if (account == NULL)
    return dispatch_send_report_error (error);

  if (!dispatch_send_read_secrets (&options, account, &password, &token, &error))
    return dispatch_send_report_error (error);

  return send_message (&options, account, message, &password, &token);
}
