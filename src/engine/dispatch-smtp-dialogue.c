/* dispatch-smtp-dialogue.c — the dialogue before a transaction: greeting, EHLO, STARTTLS, AUTH.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain synchronous GIO in the worker thread, one step per function, in the protocol's order:
 *
 *   S: 220 greeting                       connect (TLS first for security=tls)
 *   C: EHLO name       S: 250-caps …      HELO only after 500/502
 *   C: STARTTLS        S: 220             handshake, then EHLO again
 *   C: AUTH mech [ir]  S: 334 …/235
 *   …                                     the transaction (dispatch-smtp-transaction.c)
 *   C: QUIT            S: 221
 *
 * Whether an AUTH waits for its reply or rides ahead of the transaction is not decided here:
 * that is the transaction's pipelining policy, which calls the sign-in's halves.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "dispatch-smtp-auth.h"
#include "dispatch-smtp-command.h"
#include "dispatch-smtp-dialogue.h"

/* How long the replies to QUIT (and to anything still unanswered before it) may take. The
 * outcome is known by then; a server that answers QUIT with 503 and keeps the connection open
 * (Haraka, to a QUIT pipelined after the data) or not at all must not hold the user. */
#define QUIT_GRACE         2

struct _DispatchSmtpSignIn
{
  char             *mechanism;
  DispatchSmtpAuth *auth;
  char             *command;     /* the AUTH line, with the initial response: wiped when freed */
  char             *shown;       /* what the transcript shows instead */
  gboolean          has_initial_response;
};

void
dispatch_smtp_sign_in_free (DispatchSmtpSignIn *sign_in)
{
  if (sign_in == NULL)
    return;

  g_free (sign_in->mechanism);
  g_clear_pointer (&sign_in->auth, dispatch_smtp_auth_free);
  g_clear_pointer (&sign_in->command, dispatch_smtp_auth_wipe_string);
  g_free (sign_in->shown);
  g_free (sign_in);
}

const char *
dispatch_smtp_sign_in_get_mechanism (DispatchSmtpSignIn *sign_in)
{
  return sign_in->mechanism;
}

gboolean
dispatch_smtp_sign_in_completes_at_once (DispatchSmtpSignIn *sign_in)
{
  return sign_in->has_initial_response && dispatch_smtp_auth_completes_at_once (sign_in->mechanism);
}

static gboolean
step_connect (DispatchSmtpJob  *job,
              GCancellable     *cancellable,
              GError          **error)
{
  DispatchAccount *account = dispatch_smtp_job_get_account (job);
  DispatchSmtpConnection *connection = dispatch_smtp_job_get_connection (job);
  DispatchSmtpSecurity security = dispatch_account_get_security (account);
  g_autoptr(DispatchSmtpReply) greeting = NULL;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_CONNECTING);

  dispatch_smtp_connection_set_timeout (connection, dispatch_account_get_timeout (account));
  dispatch_smtp_connection_set_trust (connection,
                                      dispatch_account_get_ca_file (account),
                                      dispatch_account_get_pinned_sha256 (account));

  if (security == DISPATCH_SMTP_SECURITY_STARTTLS)
    dispatch_smtp_connection_prepare_tls (connection);

  if (!dispatch_smtp_connection_connect (connection, dispatch_smtp_job_get_host (job),
                                         dispatch_account_get_effective_port (account),
                                         security == DISPATCH_SMTP_SECURITY_TLS,
                                         cancellable, error))
    return FALSE;

  greeting = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_GREETING, cancellable, error);
  if (greeting == NULL)
    return FALSE;
  dispatch_smtp_job_set_can_quit (job, TRUE);

  if (dispatch_smtp_reply_get_code (greeting) != 220)
    {
      /* 554 means "no SMTP service here" and the server waits only for QUIT (RFC 5321 §3.1);
       * 421 means it is closing. Either way the mail cannot go through this server now. */
      dispatch_smtp_job_set_reply_error (error, greeting, DISPATCH_SMTP_STAGE_GREETING, DISPATCH_ERROR_UNAVAILABLE,
                       _("The server does not accept mail from you at the moment; check the server "
                         "name, or try again later."),
                       /* Translators: %s is a server name */
                       _("%s refused the connection."), dispatch_smtp_job_get_host (job));
      if (dispatch_smtp_reply_get_code (greeting) == 421)
        dispatch_smtp_job_set_can_quit (job, FALSE);
      return FALSE;
    }
  return TRUE;
}

/* RFC 5321 §4.1.4: the EHLO argument is our FQDN or, lacking one, our address literal. */
static char *
ehlo_name (DispatchSmtpJob *job)
{
  const char *configured = dispatch_account_get_helo_name (dispatch_smtp_job_get_account (job));
  const char *hostname;
  g_autoptr(GInetAddress) local = NULL;

  if (configured != NULL && *configured != '\0')
    return g_strdup (configured);

  /* "localhost.localdomain" and mDNS ".local" names pass the syntax check but name nothing a
   * server could look up; the address literal is more honest. */
  hostname = g_get_host_name ();
  if (dispatch_smtp_is_fqdn (hostname) && hostname[0] != '[' &&
      !g_str_has_prefix (hostname, "localhost") &&
      !g_str_has_suffix (hostname, ".localdomain") && !g_str_has_suffix (hostname, ".local"))
    return g_strdup (hostname);

  local = dispatch_smtp_connection_get_local_address (dispatch_smtp_job_get_connection (job));
  if (local != NULL)
    return dispatch_smtp_address_literal (local);
  return g_strdup ("[127.0.0.1]");
}

static gboolean
step_hello (DispatchSmtpJob  *job,
            GCancellable     *cancellable,
            GError          **error)
{
  g_autofree char *name = ehlo_name (job);
  g_autofree char *ehlo = NULL;
  g_autoptr(DispatchSmtpReply) reply = NULL;
  guint code;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_HELLO);
  dispatch_smtp_job_take_capabilities (job, NULL);

  ehlo = dispatch_smtp_command_ehlo (name, error);
  if (ehlo == NULL)
    {
      g_prefix_error (error, _("The name to introduce this computer with is not valid: "));
      return FALSE;
    }
  if (!dispatch_smtp_job_send (job, ehlo, NULL, cancellable, error))
    return FALSE;
  reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_HELLO, cancellable, error);
  if (reply == NULL)
    return FALSE;

  code = dispatch_smtp_reply_get_code (reply);
  if (code == 250)
    {
      dispatch_smtp_job_take_capabilities (job, dispatch_smtp_capabilities_new_from_ehlo (reply));
      return TRUE;
    }

  /* Only a server that does not know EHLO at all gets HELO (RFC 5321 §3.2). */
  if (code == 500 || code == 502)
    {
      g_autofree char *helo = dispatch_smtp_command_helo (name, error);

      g_clear_pointer (&reply, dispatch_smtp_reply_unref);
      if (helo == NULL || !dispatch_smtp_job_send (job, helo, NULL, cancellable, error))
        return FALSE;
      reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_HELLO, cancellable, error);
      if (reply == NULL)
        return FALSE;
      if (dispatch_smtp_reply_get_code (reply) == 250)
        {
          dispatch_smtp_job_take_capabilities (job, dispatch_smtp_capabilities_new_empty ());
          return TRUE;
        }
    }

  dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_HELLO, DISPATCH_ERROR_UNAVAILABLE,
                   _("The server may not accept this computer's name; set another one in the "
                     "account settings."),
                   /* Translators: %s is a server name */
                   _("%s refused the introduction (EHLO)."), dispatch_smtp_job_get_host (job));
  return FALSE;
}

static gboolean
step_starttls (DispatchSmtpJob  *job,
               GCancellable     *cancellable,
               GError          **error)
{
  g_autoptr(DispatchSmtpReply) reply = NULL;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_SECURING);

  /* No silent downgrade: the user asked for encryption, and a server (or someone in between)
   * that does not offer it gets nothing. */
  if (!dispatch_smtp_capabilities_has (dispatch_smtp_job_get_capabilities (job), DISPATCH_SMTP_CAPABILITY_STARTTLS))
    {
      dispatch_set_error (error, DISPATCH_ERROR_TLS_NOT_OFFERED, DISPATCH_SMTP_STAGE_TLS, NULL,
                          _("Nothing was sent. Use TLS (usually port 465) if the server offers "
                            "it; choose no encryption only for a server on a network you trust."),
                          /* Translators: %s is a server name */
                          _("%s does not offer STARTTLS, so the connection cannot be encrypted."),
                          dispatch_smtp_job_get_host (job));
      return FALSE;
    }

  if (!dispatch_smtp_job_send (job, DISPATCH_SMTP_COMMAND_STARTTLS, NULL, cancellable, error))
    return FALSE;
  reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_TLS, cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (dispatch_smtp_reply_get_code (reply) != 220)
    {
      dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_TLS, DISPATCH_ERROR_TLS_FAILED, NULL,
                       _("%s refused to start encryption."), dispatch_smtp_job_get_host (job));
      return FALSE;
    }

  dispatch_smtp_job_set_can_quit (job, FALSE);
  if (!dispatch_smtp_connection_starttls (dispatch_smtp_job_get_connection (job), cancellable, error))
    return FALSE;
  dispatch_smtp_job_set_can_quit (job, TRUE);

  /* What the server said in clear could have been forged: ask again under TLS (RFC 3207 §4.2). */
  return step_hello (job, cancellable, error);
}

gboolean
dispatch_smtp_dialogue_wants_sign_in (DispatchSmtpJob *job)
{
  const char *user = dispatch_account_get_user (dispatch_smtp_job_get_account (job));

  return (user != NULL && *user != '\0') || dispatch_smtp_job_get_oauth2_token (job) != NULL;
}

/* The error for a reply that ended the sign-in without success. @server_error: what an
 * XOAUTH2 server said about the token, or NULL. */
static void
set_auth_error (DispatchSmtpJob    *job,
                DispatchSmtpReply  *reply,
                const char         *server_error,
                GError            **error)
{
  const char *user = dispatch_account_get_user (dispatch_smtp_job_get_account (job));
  const char *host = dispatch_smtp_job_get_host (job);

  if (dispatch_smtp_reply_get_code (reply) == 530 &&
      !dispatch_smtp_connection_is_encrypted (dispatch_smtp_job_get_connection (job)))
    dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                     _("The server wants an encrypted connection first: choose STARTTLS or TLS."),
                     _("%s refused the sign-in."), host);
  else if (server_error != NULL)
    {
      g_autofree char *hint = g_strdup_printf (_("The access token was refused (%s); get a new one."),
                                               server_error);
      dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                       hint, _("%s refused the sign-in."), host);
    }
  else
    dispatch_smtp_job_set_reply_error (error, reply, DISPATCH_SMTP_STAGE_AUTH, DISPATCH_ERROR_AUTH_FAILED,
                     dispatch_error_auth_hint (host),
                     /* Translators: first %s is the user name, second a server name */
                     _("The sign-in as %s was refused by %s."), user ? user : "", host);
}

DispatchSmtpSignIn *
dispatch_smtp_dialogue_begin_sign_in (DispatchSmtpJob  *job,
                                      GError          **error)
{
  DispatchSmtpConnection *connection = dispatch_smtp_job_get_connection (job);
  DispatchSmtpCapabilities *capabilities = dispatch_smtp_job_get_capabilities (job);
  DispatchAccount *account = dispatch_smtp_job_get_account (job);
  const char *oauth2_token = dispatch_smtp_job_get_oauth2_token (job);
  const char *password = dispatch_smtp_job_get_password (job);
  gboolean encrypted = dispatch_smtp_connection_is_encrypted (connection);
  const char *user = dispatch_account_get_user (account);
  const char *mechanism;
  g_autoptr(DispatchSmtpAuth) auth = NULL;
  DispatchSmtpSignIn *sign_in;
  char *initial;
  char *command;

  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_AUTHENTICATING);

  if (!encrypted && !dispatch_account_get_allow_plaintext_auth (account))
    {
      dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH, NULL,
                          _("Use STARTTLS or TLS. Allow the password over an unencrypted "
                            "connection only for a server on a network you trust."),
                          _("Your password was not sent: the connection is not encrypted."));
      return NULL;
    }

  if (!dispatch_smtp_capabilities_has (capabilities, DISPATCH_SMTP_CAPABILITY_AUTH))
    {
      dispatch_set_error (error, DISPATCH_ERROR_AUTH_UNAVAILABLE, DISPATCH_SMTP_STAGE_AUTH, NULL,
                          encrypted
                            ? _("Leave the user name empty if this server accepts mail without signing in.")
                            : _("Many servers offer sign-in only after STARTTLS; choose STARTTLS or TLS."),
                          /* Translators: %s is a server name */
                          _("%s does not offer sign-in (AUTH)."), dispatch_smtp_job_get_host (job));
      return NULL;
    }

  mechanism = dispatch_smtp_auth_choose (dispatch_smtp_capabilities_get_auth_mechanisms (capabilities),
                                         dispatch_account_get_auth_mechanism (account),
                                         oauth2_token != NULL, encrypted, error);
  if (mechanism == NULL)
    return NULL;

  if (oauth2_token == NULL && password == NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_AUTH, NULL,
                          _("Enter the password in the account settings."),
                          _("No password was given for %s."), user ? user : "");
      return NULL;
    }

  auth = dispatch_smtp_auth_new (mechanism, user ? user : "",
                                 g_str_equal (mechanism, "XOAUTH2") ? oauth2_token : password,
                                 error);
  if (auth == NULL)
    return NULL;

  initial = dispatch_smtp_auth_initial_response (auth);
  command = dispatch_smtp_command_auth (mechanism, initial, error);
  if (command == NULL)
    {
      g_clear_pointer (&initial, dispatch_smtp_auth_wipe_string);
      return NULL;
    }

  sign_in = g_new0 (DispatchSmtpSignIn, 1);
  sign_in->mechanism = g_strdup (mechanism);
  sign_in->auth = g_steal_pointer (&auth);
  sign_in->command = command;
  sign_in->shown = initial != NULL ? g_strdup_printf ("AUTH %s " DISPATCH_SMTP_REDACTED, mechanism)
                                   : g_strdup_printf ("AUTH %s", mechanism);
  sign_in->has_initial_response = initial != NULL;
  g_clear_pointer (&initial, dispatch_smtp_auth_wipe_string);
  return sign_in;
}

gboolean
dispatch_smtp_dialogue_sign_in (DispatchSmtpJob     *job,
                                DispatchSmtpSignIn  *sign_in,
                                GCancellable        *cancellable,
                                GError             **error)
{
  gboolean sent = dispatch_smtp_job_send (job, sign_in->command, sign_in->shown, cancellable, error);

  g_clear_pointer (&sign_in->command, dispatch_smtp_auth_wipe_string);
  if (!sent)
    return FALSE;

  for (guint round = 0; ; round++)
    {
      g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, error);
      g_autofree char *answer = NULL;
      g_autofree char *line = NULL;
      guint code;

      if (reply == NULL)
        return FALSE;
      code = dispatch_smtp_reply_get_code (reply);

      if (code == 235)
        {
          dispatch_smtp_job_get_result (job)->auth_mechanism = g_strdup (sign_in->mechanism);
          return TRUE;
        }

      if (code != 334)
        {
          set_auth_error (job, reply, dispatch_smtp_auth_get_server_error (sign_in->auth), error);
          return FALSE;
        }

      /* A server that keeps challenging forever is not authenticating anyone. */
      if (round >= 8)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_AUTH, NULL, NULL,
                              _("%s sent too many authentication challenges."), dispatch_smtp_job_get_host (job));
          dispatch_smtp_job_set_can_quit (job, FALSE);
          return FALSE;
        }

      answer = dispatch_smtp_auth_step (sign_in->auth, dispatch_smtp_reply_get_lines (reply)[0], error);
      if (answer == NULL)
        {
          /* "*" cancels the exchange (RFC 4954 §4) so the dialogue stays in step. */
          dispatch_smtp_job_send (job, "*\r\n", NULL, cancellable, NULL);
          g_clear_pointer (&reply, dispatch_smtp_reply_unref);
          reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, NULL);
          return FALSE;
        }
      line = g_strconcat (answer, "\r\n", NULL);
      dispatch_smtp_auth_wipe_string (g_steal_pointer (&answer));
      if (!dispatch_smtp_job_send (job, line, DISPATCH_SMTP_REDACTED, cancellable, error))
        {
          dispatch_smtp_auth_wipe_string (g_steal_pointer (&line));
          return FALSE;
        }
      dispatch_smtp_auth_wipe_string (g_steal_pointer (&line));
    }
}

gboolean
dispatch_smtp_dialogue_queue_sign_in (DispatchSmtpJob     *job,
                                      DispatchSmtpSignIn  *sign_in,
                                      GCancellable        *cancellable,
                                      GError             **error)
{
  gboolean queued;

  g_return_val_if_fail (dispatch_smtp_sign_in_completes_at_once (sign_in), FALSE);

  queued = dispatch_smtp_job_queue (job, sign_in->command, sign_in->shown, cancellable, error);
  g_clear_pointer (&sign_in->command, dispatch_smtp_auth_wipe_string);
  return queued;
}

gboolean
dispatch_smtp_dialogue_finish_sign_in (DispatchSmtpJob     *job,
                                       DispatchSmtpSignIn  *sign_in,
                                       GCancellable        *cancellable,
                                       GError             **error)
{
  g_autoptr(DispatchSmtpReply) reply = NULL;

  reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_AUTH, cancellable, error);
  if (reply == NULL)
    return FALSE;

  switch (dispatch_smtp_reply_get_code (reply))
    {
    case 235:
      dispatch_smtp_job_get_result (job)->auth_mechanism = g_strdup (sign_in->mechanism);
      return TRUE;

    case 334:
      {
        /* It took the next command for an answer: nothing after this can be trusted. */
        g_autofree char *wire = dispatch_smtp_reply_to_string (reply);

        dispatch_smtp_job_set_can_quit (job, FALSE);
        dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_AUTH, wire, NULL,
                            /* Translators: %s is a server name */
                            _("%s asked for more after a complete sign-in."), dispatch_smtp_job_get_host (job));
        return FALSE;
      }

    default:
      set_auth_error (job, reply, NULL, error);
      return FALSE;
    }
}

/* After success, or to leave politely after a failure. A failure here changes nothing about a
 * message that was already accepted. */
void
dispatch_smtp_dialogue_quit (DispatchSmtpJob *job,
                             gboolean         wait_for_reply,
                             GCancellable    *cancellable)
{
  DispatchSmtpConnection *connection = dispatch_smtp_job_get_connection (job);
  guint timeout = dispatch_account_get_timeout (dispatch_smtp_job_get_account (job));

  if (!dispatch_smtp_connection_is_connected (connection))
    return;

  if (dispatch_smtp_job_get_can_quit (job))
    {
      dispatch_smtp_connection_set_timeout (connection, MIN (QUIT_GRACE, timeout));
      dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_QUITTING);
      if (!dispatch_smtp_job_get_quit_sent (job))
        dispatch_smtp_job_set_quit_sent (job, dispatch_smtp_job_send (job, DISPATCH_SMTP_COMMAND_QUIT, NULL,
                                                                      cancellable, NULL));

      /* The replies still due end with the one to QUIT; whatever that one says — 221, or 503
       * from a server that wanted QUIT on its own — the session is over. Silence for the grace
       * period ends it too. */
      while (dispatch_smtp_job_get_quit_sent (job) && wait_for_reply &&
             dispatch_smtp_connection_get_n_awaited (connection) > 0)
        {
          g_autoptr(DispatchSmtpReply) reply = dispatch_smtp_job_read_reply (job, DISPATCH_SMTP_STAGE_QUIT, cancellable, NULL);

          if (reply == NULL)
            break;
        }
    }
  dispatch_smtp_connection_close (connection);
}

/* After the end of the data, QUIT may join the same flight (RFC 2920 §3.1). */
gboolean
dispatch_smtp_dialogue_queue_quit (DispatchSmtpJob  *job,
                                   GCancellable     *cancellable,
                                   GError          **error)
{
  dispatch_smtp_job_set_state (job, DISPATCH_SMTP_STATE_QUITTING);
  if (!dispatch_smtp_job_queue (job, DISPATCH_SMTP_COMMAND_QUIT, NULL, cancellable, error))
    return FALSE;
  dispatch_smtp_job_set_quit_sent (job, TRUE);
  return TRUE;
}

gboolean
dispatch_smtp_dialogue_open (DispatchSmtpJob  *job,
                             GError          **error)
{
  DispatchSmtpSecurity security = dispatch_account_get_security (dispatch_smtp_job_get_account (job));
  GCancellable *cancellable = dispatch_smtp_job_get_cancellable (job);

  return step_connect (job, cancellable, error) &&
         step_hello (job, cancellable, error) &&
         (security != DISPATCH_SMTP_SECURITY_STARTTLS || step_starttls (job, cancellable, error));
}
