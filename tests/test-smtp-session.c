/* test-smtp-session.c — the whole dialogue against a scripted server on 127.0.0.1.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-connection.h"
#include "dispatch-test-server.h"

#define PASSWORD "s3cret-Pa55word!"

/* Everything a send showed the caller, in the order it was shown. */
typedef struct
{
  GMainLoop          *loop;
  DispatchSmtpResult *result;
  GError             *error;
  GPtrArray          *transcript;   /* "C: …", "S: …", "*: …" */
  GArray             *states;
  GPtrArray          *recipients;   /* "address code" */
  guint64             last_sent;
  guint64             last_total;
  guint               n_progress;
  GCancellable       *cancellable;
  gboolean            cancel_on_progress;
  const char         *cancel_on_line;   /* cancel when a transcript line matches this pattern */
  gboolean            done;
  gint64              finished_at;
  gint64              cancelled_at;
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->loop, g_main_loop_unref);
  g_clear_pointer (&run->result, dispatch_smtp_result_free);
  g_clear_error (&run->error);
  g_clear_pointer (&run->transcript, g_ptr_array_unref);
  g_clear_pointer (&run->states, g_array_unref);
  g_clear_pointer (&run->recipients, g_ptr_array_unref);
  g_clear_object (&run->cancellable);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static void
on_state (DispatchSmtpSession *session,
          DispatchSmtpState    state,
          Run                 *run)
{
  g_assert_false (run->done);
  g_array_append_val (run->states, state);
}

static void
on_transcript (DispatchSmtpSession   *session,
               DispatchSmtpDirection  direction,
               const char            *line,
               Run                   *run)
{
  const char *prefix = direction == DISPATCH_SMTP_DIRECTION_CLIENT ? "C" :
                       direction == DISPATCH_SMTP_DIRECTION_SERVER ? "S" : "*";

  g_assert_false (run->done);
  g_ptr_array_add (run->transcript, g_strdup_printf ("%s: %s", prefix, line));
  if (run->cancel_on_line != NULL &&
      g_pattern_match_simple (run->cancel_on_line, g_ptr_array_index (run->transcript, run->transcript->len - 1)))
    g_cancellable_cancel (run->cancellable);
}

static void
on_progress (DispatchSmtpSession *session,
             guint64              sent,
             guint64              total,
             Run                 *run)
{
  g_assert_false (run->done);
  g_assert_cmpuint (sent, <=, total);
  g_assert_cmpuint (sent, >=, run->last_sent);
  run->last_sent = sent;
  run->last_total = total;
  run->n_progress++;

  /* Past the first megabyte the server has surely seen data (the output buffer is 64 KiB). */
  if (run->cancel_on_progress && sent > 1024 * 1024 && !g_cancellable_is_cancelled (run->cancellable))
    {
      run->cancelled_at = g_get_monotonic_time ();
      g_cancellable_cancel (run->cancellable);
    }
}

static void
on_recipient (DispatchSmtpSession *session,
              const char          *address,
              guint                code,
              const char          *reply,
              Run                 *run)
{
  g_assert_false (run->done);
  g_ptr_array_add (run->recipients, g_strdup_printf ("%s %u", address, code));
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Run *run = user_data;

  run->result = dispatch_smtp_session_send_finish (DISPATCH_SMTP_SESSION (source), result, &run->error);
  if (run->error != NULL && g_getenv ("DISPATCH_TEST_DEBUG") != NULL)
    g_printerr ("send failed: %s\n", run->error->message);
  run->done = TRUE;
  run->finished_at = g_get_monotonic_time ();
  g_main_loop_quit (run->loop);
}

static void
on_tested (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Run *run = user_data;

  run->result = dispatch_smtp_session_test_finish (DISPATCH_SMTP_SESSION (source), result, &run->error);
  run->done = TRUE;
  g_main_loop_quit (run->loop);
}

static DispatchAccount *
make_account (guint16              port,
              DispatchSmtpSecurity security)
{
  DispatchAccount *account = dispatch_account_new ();
  g_autofree char *ca = dispatch_test_file ("ca.pem");

  dispatch_account_set_host (account, "127.0.0.1");
  dispatch_account_set_port (account, port);
  dispatch_account_set_security (account, security);
  dispatch_account_set_ca_file (account, ca);
  dispatch_account_set_timeout (account, 10);
  return account;
}

static DispatchMessage *
make_message (void)
{
  DispatchMessage *message = dispatch_message_new ();

  dispatch_message_set_from (message, "Ann Example <ann@example.org>");
  dispatch_message_set_to (message, "bob@example.net");
  dispatch_message_set_subject (message, "Hello");
  dispatch_message_set_text (message, "Hi Bob,\n.\n..leading dots\nbye\n");
  return message;
}

static void
run_init (Run *run)
{
  run->loop = g_main_loop_new (NULL, FALSE);
  run->transcript = g_ptr_array_new_with_free_func (g_free);
  run->states = g_array_new (FALSE, FALSE, sizeof (DispatchSmtpState));
  run->recipients = g_ptr_array_new_with_free_func (g_free);
  run->cancellable = g_cancellable_new ();
}

/* Sends @message (or tests, when NULL) through @account; returns when the callback ran. */
static void
run_session (Run             *run,
             DispatchAccount *account,
             const char      *password,
             DispatchMessage *message)
{
  g_autoptr(DispatchSmtpSession) session = dispatch_smtp_session_new ();

  g_signal_connect (session, "state-changed", G_CALLBACK (on_state), run);
  g_signal_connect (session, "transcript", G_CALLBACK (on_transcript), run);
  g_signal_connect (session, "progress", G_CALLBACK (on_progress), run);
  g_signal_connect (session, "recipient", G_CALLBACK (on_recipient), run);

  if (message != NULL)
    dispatch_smtp_session_send_async (session, account, password, NULL, message,
                                      run->cancellable, on_sent, run);
  else
    dispatch_smtp_session_test_async (session, account, password, NULL,
                                      run->cancellable, on_tested, run);
  g_assert_true (dispatch_smtp_session_is_busy (session));
  g_main_loop_run (run->loop);
  g_assert_false (dispatch_smtp_session_is_busy (session));

  /* Nothing may arrive after the callback. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_signal_handlers_disconnect_by_data (session, run);
  g_assert_finalize_object (g_steal_pointer (&session));
}

static gboolean
transcript_has (Run        *run,
                const char *pattern)
{
  for (guint i = 0; i < run->transcript->len; i++)
    if (g_pattern_match_simple (pattern, g_ptr_array_index (run->transcript, i)))
      return TRUE;
  return FALSE;
}

/* The position of the first line matching @pattern; fails the test when there is none. */
static guint
transcript_index (Run        *run,
                  const char *pattern)
{
  for (guint i = 0; i < run->transcript->len; i++)
    if (g_pattern_match_simple (pattern, g_ptr_array_index (run->transcript, i)))
      return i;
  g_error ("transcript has no line matching \"%s\"", pattern);
}

static void
assert_transcript_has (Run        *run,
                       const char *pattern)
{
  if (!transcript_has (run, pattern))
    {
      for (guint i = 0; i < run->transcript->len; i++)
        g_printerr ("  %s\n", (char *) g_ptr_array_index (run->transcript, i));
      g_error ("transcript has no line matching \"%s\"", pattern);
    }
}

static void
assert_no_secret (Run *run)
{
  g_autofree char *plain_b64 = g_base64_encode ((const guchar *) "\0alice\0" PASSWORD,
                                                strlen ("alice") + strlen (PASSWORD) + 2);

  for (guint i = 0; i < run->transcript->len; i++)
    {
      const char *line = g_ptr_array_index (run->transcript, i);

      g_assert_null (strstr (line, PASSWORD));
      g_assert_null (strstr (line, plain_b64));
    }
  if (run->error != NULL)
    {
      g_autofree char *text = dispatch_error_format (run->error);
      g_assert_null (strstr (text, PASSWORD));
    }
}

static gboolean
states_include (Run               *run,
                DispatchSmtpState  state)
{
  for (guint i = 0; i < run->states->len; i++)
    if (g_array_index (run->states, DispatchSmtpState, i) == state)
      return TRUE;
  return FALSE;
}

static DispatchSmtpState
last_state (Run *run)
{
  g_assert_cmpuint (run->states->len, >, 0);
  return g_array_index (run->states, DispatchSmtpState, run->states->len - 1);
}

static void
finish_server (DispatchTestServer *server)
{
  g_autoptr(GError) error = NULL;

  if (!dispatch_test_server_finish (server, &error))
    g_error ("scripted server: %s", error->message);
}

static char *
message_text (DispatchTestServer *server,
              guint               index)
{
  g_autoptr(GBytes) bytes = dispatch_test_server_get_message (server, index);
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  return g_strndup (data, len);
}

/* ─── Happy paths ───────────────────────────────────────────────────────────────────────── */

static void
test_plain_lockstep (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 test.example ESMTP ready\n"
    "expect EHLO *\n"
    "send 250-test.example greets you\n"
    "send 250 8BITMIME\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 2.1.0 Ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 2.1.5 Ok\n"
    "expect DATA\n"
    "send 354 End data with <CR><LF>.<CR><LF>\n"
    "data\n"
    "send 250 2.0.0 Ok: queued as 4XyZ12\n"
    "expect QUIT\n"
    "send 221 2.0.0 Bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *received = NULL;
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_nonnull (run.result);
  g_assert_cmpstr (run.result->final_reply, ==, "250 2.0.0 Ok: queued as 4XyZ12");
  g_assert_cmpstr (run.result->queue_id, ==, "4XyZ12");
  g_assert_cmpuint (run.result->accepted->len, ==, 1);
  g_assert_cmpuint (run.result->refused->len, ==, 0);
  g_assert_null (run.result->tls_version);
  g_assert_null (run.result->auth_mechanism);
  g_assert_false (run.result->used_pipelining);
  g_assert_false (run.result->used_chunking);
  g_assert_cmpstr (run.result->server_domain, ==, "test.example");

  /* Progress reached the whole message, and the message is what the server received. */
  g_assert_cmpuint (run.last_total, >, 0);
  g_assert_cmpuint (run.last_sent, ==, run.last_total);
  g_assert_cmpuint (run.result->bytes_sent, ==, run.last_total);
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 1);
  received = message_text (server, 0);
  g_assert_cmpuint (strlen (received), ==, run.last_total);
  g_assert_nonnull (strstr (received, "Subject: Hello\r\n"));
  g_assert_nonnull (strstr (received, "\r\n.\r\n..leading dots\r\n"));

  g_assert_true (states_include (&run, DISPATCH_SMTP_STATE_CONNECTING));
  g_assert_true (states_include (&run, DISPATCH_SMTP_STATE_HELLO));
  g_assert_true (states_include (&run, DISPATCH_SMTP_STATE_SENDING_ENVELOPE));
  g_assert_true (states_include (&run, DISPATCH_SMTP_STATE_SENDING_DATA));
  g_assert_true (states_include (&run, DISPATCH_SMTP_STATE_QUITTING));
  g_assert_false (states_include (&run, DISPATCH_SMTP_STATE_SECURING));
  g_assert_cmpint (last_state (&run), ==, DISPATCH_SMTP_STATE_DONE);

  assert_transcript_has (&run, "S: 220 test.example ESMTP ready");
  assert_transcript_has (&run, "C: EHLO *");
  assert_transcript_has (&run, "C: MAIL FROM:<ann@example.org>");
  assert_transcript_has (&run, "C: .");
  assert_transcript_has (&run, "S: 221 2.0.0 Bye");
  g_assert_cmpuint (run.recipients->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (run.recipients, 0), ==, "bob@example.net 250");
}

/* The EHLO argument is an FQDN or an address literal, never a made-up word. */
static void
test_ehlo_name (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 test ESMTP\n"
    "expect EHLO *\n"
    "send 250 test\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  guint16 port = dispatch_test_server_start (server);
  const char *line = NULL;

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, NULL);
  finish_server (server);
  g_assert_no_error (run.error);

  for (guint i = 0; i < run.transcript->len && line == NULL; i++)
    if (g_str_has_prefix (g_ptr_array_index (run.transcript, i), "C: EHLO "))
      line = (const char *) g_ptr_array_index (run.transcript, i) + strlen ("C: EHLO ");
  g_assert_nonnull (line);
  if (dispatch_smtp_is_fqdn (g_get_host_name ()))
    g_assert_cmpstr (line, ==, g_get_host_name ());
  else
    g_assert_cmpstr (line, ==, "[127.0.0.1]");
}

static void
test_helo_fallback (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 old ready\n"
    "expect EHLO *\n"
    "send 502 5.5.1 Command not implemented\n"
    "expect HELO *\n"
    "send 250 old\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 accepted\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->final_reply, ==, "250 accepted");
  g_assert_null (run.result->queue_id);
}

/* A 4xx/5xx to EHLO other than 500/502 is not a reason to try HELO. */
static void
test_ehlo_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 test ESMTP\n"
    "expect EHLO *\n"
    "send 550 5.7.1 Go away\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_UNAVAILABLE);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_HELLO);
  g_assert_cmpstr (dispatch_error_get_reply (run.error), ==, "550 5.7.1 Go away");
}

/* STARTTLS, EHLO again, then AUTH PLAIN, MAIL, RCPT and DATA in one flight (RFC 4954 §4), and
 * QUIT after the dot. */
static void
test_starttls_auth_pipelining (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx.test\n"
    "send 250-PIPELINING\n"
    "send 250 STARTTLS\n"
    "expect STARTTLS\n"
    "send 220 2.0.0 Ready to start TLS\n"
    "tls\n"
    "expect EHLO *\n"
    "send 250-mx.test\n"
    "send 250-PIPELINING\n"
    "send 250-SIZE 10240000\n"
    "send 250-AUTH LOGIN PLAIN\n"
    "send 250 ENHANCEDSTATUSCODES\n"
    "expect AUTH PLAIN AGFsaWNlAHMzY3JldC1QYTU1d29yZCE=\n"
    "send 235 2.7.0 Authentication successful\n"
    "expect! MAIL FROM:<ann@example.org> SIZE=*\n"
    "send 250 2.1.0 Ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 2.1.5 Ok\n"
    "expect! DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 2.0.0 Ok: queued as TLS42\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_STARTTLS);
  dispatch_account_set_user (account, "alice");
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "TLS42");
  g_assert_cmpstr (run.result->auth_mechanism, ==, "PLAIN");
  g_assert_nonnull (run.result->tls_version);
  g_assert_true (g_str_has_prefix (run.result->tls_version, "TLS 1."));
  g_assert_nonnull (run.result->tls_cipher);
  g_assert_true (run.result->used_pipelining);
  g_assert_true (states_include (&run, DISPATCH_SMTP_STATE_SECURING));
  g_assert_true (states_include (&run, DISPATCH_SMTP_STATE_AUTHENTICATING));
  assert_transcript_has (&run, "C: AUTH PLAIN <redacted>");
  assert_transcript_has (&run, "?: TLS established: TLS 1.*");
  assert_no_secret (&run);
}

/* AUTH LOGIN: both answers redacted in the transcript. */
static void
test_auth_login (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx.test\n"
    "send 250 AUTH LOGIN\n"
    "expect AUTH LOGIN\n"
    "send 334 VXNlcm5hbWU6\n"
    "expect YWxpY2U=\n"
    "send 334 UGFzc3dvcmQ6\n"
    "expect czNjcmV0LVBhNTV3b3JkIQ==\n"
    "send 235 ok\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  guint16 port = dispatch_test_server_start (server);
  guint redacted = 0;

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);
  dispatch_account_set_user (account, "alice");
  run_session (&run, account, PASSWORD, NULL);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->auth_mechanism, ==, "LOGIN");
  for (guint i = 0; i < run.transcript->len; i++)
    if (g_str_equal (g_ptr_array_index (run.transcript, i), "C: <redacted>"))
      redacted++;
  g_assert_cmpuint (redacted, ==, 2);
  g_assert_false (transcript_has (&run, "C: YWxpY2U="));
  assert_no_secret (&run);
}

/* Implicit TLS (port 465 style): TLS before the greeting. */
static void
test_implicit_tls (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 secure ESMTP\n"
    "expect EHLO *\n"
    "send 250 secure\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok queued as IMPL1\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_no_error (run.error);
  g_assert_nonnull (run.result->tls_version);
  g_assert_cmpstr (run.result->queue_id, ==, "IMPL1");
  g_assert_false (states_include (&run, DISPATCH_SMTP_STATE_SECURING));
}

/* CHUNKING + PIPELINING: envelope, BDAT LAST with the whole message and QUIT in one flight. */
static void
test_bdat_one_flight (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250-PIPELINING\n"
    "send 250-CHUNKING\n"
    "send 250 SIZE\n"
    "expect MAIL FROM:<ann@example.org> SIZE=*\n"
    "send 250 ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect! RCPT TO:<carol@example.net>\n"
    "send 250 ok\n"
    "bdat\n"
    "send 250 2.0.0 Ok: queued as BDAT1\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *received = NULL;
  guint16 port = dispatch_test_server_start (server);

  dispatch_message_set_to (message, "bob@example.net, carol@example.net");
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_true (run.result->used_chunking);
  g_assert_cmpstr (run.result->queue_id, ==, "BDAT1");
  g_assert_cmpuint (run.result->accepted->len, ==, 2);
  received = message_text (server, 0);
  /* No dot-stuffing with BDAT. */
  g_assert_nonnull (strstr (received, "\r\n.\r\n..leading dots\r\n"));
  g_assert_null (strstr (received, "\r\n..\r\n"));
  g_assert_cmpuint (strlen (received), ==, run.last_total);
  assert_transcript_has (&run, "C: BDAT * LAST");
}

/* Attaches @size random bytes, written to a file in @dir; returns the file's path. */
static char *
attach_random_file (DispatchMessage *message,
                    const char      *dir,
                    gsize            size)
{
  g_autofree guint8 *data = g_malloc (size);
  g_autoptr(GFile) file = NULL;
  char *path = g_build_filename (dir, "data.bin", NULL);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_random_int ();
  g_assert_true (g_file_set_contents (path, (const char *) data, size, NULL));
  file = g_file_new_for_path (path);
  dispatch_message_add_attachment (message, file);
  return path;
}

/* A large message with CHUNKING: several BDAT chunks, envelope answered first. */
static void
test_bdat_chunks (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(GString) script = g_string_new (NULL);
  g_autoptr(GBytes) received = NULL;
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *dir = g_dir_make_tmp ("dispatch-session-XXXXXX", NULL);
  g_autofree char *path = attach_random_file (message, dir, 2 * 1024 * 1024);
  guint64 size;
  guint n_chunks;
  guint16 port;

  /* Pipelined chunks are 256 KiB: every full one, then the rest with LAST. */
  g_assert_true (dispatch_message_prepare (message, FALSE, FALSE, NULL, NULL));
  size = dispatch_message_get_size (message, NULL, NULL);
  n_chunks = size / (256 * 1024) + 1;
  g_assert_cmpuint (size % (256 * 1024), >, 64);
  g_assert_cmpuint (n_chunks, >, 8);

  g_string_append (script,
                   "send 220 mx ESMTP\n"
                   "expect EHLO *\n"
                   "send 250-mx\n"
                   "send 250-PIPELINING\n"
                   "send 250 CHUNKING\n"
                   "expect MAIL FROM:<ann@example.org>\n"
                   "send 250 ok\n"
                   "expect! RCPT TO:<bob@example.net>\n"
                   "send 250 ok\n");
  for (guint i = 0; i < n_chunks; i++)
    g_string_append (script, "bdat\n");
  for (guint i = 0; i + 1 < n_chunks; i++)
    g_string_append_printf (script, "send 250 2.0.0 %u octets received\n", 256 * 1024);
  g_string_append (script,
                   "send 250 2.0.0 Ok: queued as BIG\n"
                   "expect QUIT\n"
                   "send 221 bye\n");

  server = dispatch_test_server_new (script->str);
  port = dispatch_test_server_start (server);
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "BIG");
  /* The session builds the message again (new Message-ID and boundary): same size give or
   * take a few octets, and exactly what went over the wire. */
  g_assert_cmpuint (run.last_total, >=, size - 64);
  g_assert_cmpuint (run.last_total, <=, size + 64);
  received = dispatch_test_server_get_message (server, 0);
  g_assert_cmpuint (g_bytes_get_size (received), ==, run.last_total);
  g_assert_cmpuint (run.n_progress, >=, 2);

  g_unlink (path);
  g_rmdir (dir);
}

/* BODY=8BITMIME only when offered and needed: UTF-8 text then goes as 8bit. */
static void
test_8bitmime (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 8BITMIME\n"
    "expect MAIL FROM:<ann@example.org> BODY=8BITMIME\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *received = NULL;
  guint16 port = dispatch_test_server_start (server);

  dispatch_message_set_text (message, "Grüße aus Köln — schöne Woche!\n");
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_no_error (run.error);
  received = message_text (server, 0);
  g_assert_nonnull (strstr (received, "Content-Transfer-Encoding: 8bit"));
  g_assert_nonnull (strstr (received, "Grüße aus Köln"));
}

/* Without 8BITMIME the same text is encoded to 7 bits and no BODY= is declared. */
static void
test_7bit_without_8bitmime (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *received = NULL;
  guint16 port = dispatch_test_server_start (server);

  dispatch_message_set_text (message, "Grüße aus Köln — schöne Woche!\n");
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_no_error (run.error);
  received = message_text (server, 0);
  for (const char *p = received; *p != '\0'; p++)
    g_assert_cmpuint ((guchar) *p, <, 0x80);
}

/* An internationalised address needs SMTPUTF8; with it, MAIL declares it. */
static void
test_smtputf8 (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250-8BITMIME\n"
    "send 250 SMTPUTF8\n"
    "expect MAIL FROM:<ann@example.org>* SMTPUTF8\n"
    "send 250 ok\n"
    "expect RCPT TO:<jörg@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  dispatch_message_set_to (message, "Jörg <jörg@example.net>");
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_no_error (run.error);
}

/* The same address to a server without SMTPUTF8 is refused before MAIL, naming the field. */
static void
test_smtputf8_missing (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  dispatch_message_set_to (message, "jörg@example.net");
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (run.error->message, "To"));
  g_assert_false (transcript_has (&run, "C: MAIL*"));
}

static void
on_token_sent (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  on_sent (source, result, user_data);
}

/* XOAUTH2 with a bearer token; the token never reaches the transcript. */
static void
test_xoauth2 (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 smtp.gmail.com ESMTP\n"
    "expect EHLO *\n"
    "send 250-smtp.gmail.com\n"
    "send 250 AUTH LOGIN PLAIN XOAUTH2\n"
    "expect AUTH XOAUTH2 dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LnRva2VuAQE=\n"
    "send 235 2.7.0 Accepted\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autoptr(DispatchSmtpSession) session = dispatch_smtp_session_new ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);
  dispatch_account_set_user (account, "alice@example.org");
  g_signal_connect (session, "transcript", G_CALLBACK (on_transcript), &run);
  dispatch_smtp_session_send_async (session, account, NULL, "ya29.token", message, NULL,
                                    on_token_sent, &run);
  g_main_loop_run (run.loop);
  finish_server (server);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->auth_mechanism, ==, "XOAUTH2");
  assert_transcript_has (&run, "C: AUTH XOAUTH2 <redacted>");
  g_assert_false (transcript_has (&run, "*ya29.token*"));
  g_assert_false (transcript_has (&run, "*dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LnRva2VuAQE=*"));
}

/* ─── TLS failures ──────────────────────────────────────────────────────────────────────── */

static void
test_starttls_not_offered (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 AUTH PLAIN\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autoptr(GBytes) received = NULL;
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_STARTTLS);
  dispatch_account_set_user (account, "alice");
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_TLS_NOT_OFFERED);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_TLS);
  g_assert_nonnull (strstr (run.error->message, "STARTTLS"));
  g_assert_nonnull (dispatch_error_get_hint (run.error));
  g_assert_false (transcript_has (&run, "C: AUTH*"));
  g_assert_false (transcript_has (&run, "C: MAIL*"));
  assert_no_secret (&run);
}

/* The server (or someone in between) sends a forged reply right behind its 220 to STARTTLS.
 * The client hangs up: after that 220 the server expects a TLS handshake, so even QUIT in
 * clear would be noise. */
static void
test_starttls_injection (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 STARTTLS\n"
    "expect STARTTLS\n"
    "send-raw 220 go ahead\\r\\n250-mx\\r\\n250 AUTH PLAIN\\r\\n\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_STARTTLS);
  dispatch_account_set_user (account, "alice");
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_STARTTLS_INJECTION);
  g_assert_false (transcript_has (&run, "C: AUTH*"));
  assert_no_secret (&run);
}

static void
run_certificate_case (const char           *cert,
                      const char           *key,
                      GTlsCertificateFlags  expected_flag,
                      const char           *reason_fragment)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n");
  g_autofree char *cert_path = dispatch_test_file (cert);
  g_autofree char *key_path = dispatch_test_file (key);
  g_autoptr(GTlsCertificate) certificate = g_tls_certificate_new_from_file (cert_path, NULL);
  g_autofree char *expected_fingerprint = dispatch_smtp_certificate_sha256 (certificate);
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autoptr(GError) server_error = NULL;
  guint16 port;

  dispatch_test_server_set_certificate (server, cert_path, key_path);
  port = dispatch_test_server_start (server);
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);
  run_session (&run, account, NULL, message);
  /* The handshake fails on the server's side too: that is the point. */
  dispatch_test_server_finish (server, &server_error);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_CERTIFICATE_UNTRUSTED);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_TLS);
  g_assert_true (dispatch_error_get_certificate_flags (run.error) & expected_flag);
  g_assert_cmpstr (dispatch_error_get_fingerprint (run.error), ==, expected_fingerprint);
  g_assert_nonnull (dispatch_error_get_certificate (run.error));
  if (strstr (run.error->message, reason_fragment) == NULL)
    g_error ("\"%s\" does not name the reason \"%s\"", run.error->message, reason_fragment);
}

static void
test_certificate_untrusted (void)
{
  run_certificate_case ("self-signed.pem", "self-signed-key.pem", G_TLS_CERTIFICATE_UNKNOWN_CA,
                        "unknown issuer");
}

static void
test_certificate_wrong_host (void)
{
  run_certificate_case ("wrong-host.pem", "wrong-host-key.pem", G_TLS_CERTIFICATE_BAD_IDENTITY,
                        "wrong host name");
}

static void
test_certificate_expired (void)
{
  run_certificate_case ("expired.pem", "expired-key.pem", G_TLS_CERTIFICATE_EXPIRED, "expired");
}

/* The user trusted exactly this certificate for this server. */
static void
test_certificate_pinned (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 pinned ESMTP\n"
    "expect EHLO *\n"
    "send 250 pinned\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autofree char *cert_path = dispatch_test_file ("self-signed.pem");
  g_autofree char *key_path = dispatch_test_file ("self-signed-key.pem");
  g_autoptr(GTlsCertificate) certificate = g_tls_certificate_new_from_file (cert_path, NULL);
  g_autofree char *fingerprint = dispatch_smtp_certificate_sha256 (certificate);
  g_autoptr(GString) with_colons = g_string_new (NULL);
  g_autoptr(DispatchAccount) account = NULL;
  guint16 port;

  /* Written the way tools print it: upper case, colon-separated. */
  for (guint i = 0; fingerprint[i] != '\0'; i += 2)
    g_string_append_printf (with_colons, "%s%c%c", i ? ":" : "",
                            g_ascii_toupper (fingerprint[i]), g_ascii_toupper (fingerprint[i + 1]));

  dispatch_test_server_set_certificate (server, cert_path, key_path);
  port = dispatch_test_server_start (server);
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);
  dispatch_account_set_pinned_sha256 (account, with_colons->str);
  run_session (&run, account, NULL, NULL);
  finish_server (server);
  g_assert_no_error (run.error);
  g_assert_nonnull (run.result->tls_version);
}

/* A pin for another certificate does not let this one through. */
static void
test_certificate_wrong_pin (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("tls\n");
  g_autofree char *cert_path = dispatch_test_file ("self-signed.pem");
  g_autofree char *key_path = dispatch_test_file ("self-signed-key.pem");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(GError) server_error = NULL;
  guint16 port;

  dispatch_test_server_set_certificate (server, cert_path, key_path);
  port = dispatch_test_server_start (server);
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);
  dispatch_account_set_pinned_sha256 (account, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  run_session (&run, account, NULL, NULL);
  dispatch_test_server_finish (server, &server_error);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_CERTIFICATE_UNTRUSTED);
}

/* ─── Refusals ──────────────────────────────────────────────────────────────────────────── */

static void
test_greeting_554 (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 554 5.7.1 No SMTP service here for you\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_UNAVAILABLE);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_GREETING);
  g_assert_cmpstr (dispatch_error_get_reply (run.error), ==, "554 5.7.1 No SMTP service here for you");
}

static void
test_auth_535 (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 smtp.gmail.com ESMTP\n"
    "expect EHLO *\n"
    "send 250-smtp.gmail.com at your service\n"
    "send 250 AUTH LOGIN PLAIN XOAUTH2\n"
    "expect AUTH PLAIN *\n"
    "send 535-5.7.8 Username and Password not accepted. For more information, go to\n"
    "send 535 5.7.8  https://support.google.com/mail/?p=BadCredentials\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *formatted = NULL;
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);
  dispatch_account_set_user (account, "alice");
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_AUTH);
  g_assert_nonnull (strstr (dispatch_error_get_reply (run.error), "535 5.7.8"));
  g_assert_nonnull (strstr (dispatch_error_get_reply (run.error), "Username and Password not accepted"));
  g_assert_nonnull (dispatch_error_get_hint (run.error));
  formatted = dispatch_error_format (run.error);
  g_assert_nonnull (strstr (formatted, "535-5.7.8 Username"));
  g_assert_false (transcript_has (&run, "C: MAIL*"));
  assert_no_secret (&run);
}

/* 534 (Gmail's "application-specific password required") is a refused sign-in, with a hint. */
static void
test_auth_534 (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 smtp.gmail.com ESMTP\n"
    "expect EHLO client.example.org\n"
    "send 250-smtp.gmail.com\n"
    "send 250 AUTH PLAIN\n"
    "expect AUTH PLAIN *\n"
    "send 534-5.7.9 Application-specific password required.\n"
    "send 534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_helo_name (account, "client.example.org");
  dispatch_account_set_user (account, "alice@gmail.com");
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  run_session (&run, account, PASSWORD, NULL);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED);
  g_assert_cmpstr (dispatch_error_get_hint (run.error), ==, dispatch_error_auth_hint ("127.0.0.1"));
  g_assert_nonnull (strstr (dispatch_error_get_reply (run.error), "Application-specific password required"));
  assert_no_secret (&run);
}

/* ─── AUTH PLAIN in the same flight as the transaction (RFC 4954 §4) ─────────────────────── */

/* Implicit TLS, a server offering PIPELINING, CHUNKING and AUTH PLAIN, and the client's AUTH. */
#define PIPELINING_CHUNKING_AUTH_PLAIN \
    "tls\n" \
    "send 220 mx.test ESMTP\n" \
    "expect EHLO *\n" \
    "send 250-mx.test\n" \
    "send 250-PIPELINING\n" \
    "send 250-CHUNKING\n" \
    "send 250 AUTH PLAIN\n" \
    "expect AUTH PLAIN *\n"

/* Implicit TLS, signed in as alice with PASSWORD; returns when the server's script has ended. */
static void
send_over_tls_as_alice (Run                *run,
                        DispatchTestServer *server,
                        DispatchMessage    *message)
{
  guint16 port = dispatch_test_server_start (server);
  g_autoptr(DispatchAccount) account = make_account (port, DISPATCH_SMTP_SECURITY_TLS);

  dispatch_account_set_user (account, "alice");
  run_init (run);
  run_session (run, account, PASSWORD, message);
  finish_server (server);
}

/* PIPELINING + CHUNKING: AUTH, MAIL and RCPT leave before the first reply; BDAT LAST, which
 * commits the message, waits for the 235, and QUIT goes with it — two round trips after EHLO. */
static void
test_auth_pipelined_one_flight (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx.test\n"
    "send 250-PIPELINING\n"
    "send 250-CHUNKING\n"
    "send 250 AUTH PLAIN LOGIN\n"
    "expect AUTH PLAIN AGFsaWNlAHMzY3JldC1QYTU1d29yZCE=\n"
    "send 235 2.7.0 Authentication successful\n"
    "expect! MAIL FROM:<ann@example.org>\n"
    "send 250 2.1.0 Ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 2.1.5 Ok\n"
    "bdat\n"
    "send 250 2.0.0 Ok: queued as ONE\n"
    "expect! QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchMessage) message = make_message ();

  send_over_tls_as_alice (&run, server, message);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->auth_mechanism, ==, "PLAIN");
  g_assert_cmpstr (run.result->queue_id, ==, "ONE");
  g_assert_cmpuint (transcript_index (&run, "S: 235 *"), <, transcript_index (&run, "C: BDAT * LAST"));
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 1);
  assert_transcript_has (&run, "C: AUTH PLAIN <redacted>");
  assert_no_secret (&run);
}

/* A refused sign-in: the server turns down the envelope that came with it, and the user hears
 * about the sign-in, not about the sender. */
static void
test_auth_pipelined_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 smtp.gmail.com ESMTP\n"
    "expect EHLO *\n"
    "send 250-smtp.gmail.com at your service\n"
    "send 250-PIPELINING\n"
    "send 250-CHUNKING\n"
    "send 250 AUTH LOGIN PLAIN XOAUTH2\n"
    "expect AUTH PLAIN *\n"
    "send 535-5.7.8 Username and Password not accepted. For more information, go to\n"
    "send 535 5.7.8  https://support.google.com/mail/?p=BadCredentials\n"
    "expect! MAIL FROM:<ann@example.org>\n"
    "send 530-5.7.0 Authentication Required. For more information, go to\n"
    "send 530 5.7.0  https://support.google.com/mail/?p=WantAuthError\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 503 5.5.1 MAIL first.\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchMessage) message = make_message ();

  send_over_tls_as_alice (&run, server, message);

  g_assert_null (run.result);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_AUTH);
  g_assert_nonnull (strstr (dispatch_error_get_reply (run.error), "535 5.7.8"));
  g_assert_cmpstr (dispatch_error_get_hint (run.error), ==, dispatch_error_auth_hint ("127.0.0.1"));
  /* Every reply was read: the dialogue ended in step, with 221. */
  assert_transcript_has (&run, "S: 221 bye");
  assert_no_secret (&run);
}

/* A server that takes mail it would take from anyone (an MX port) accepts the envelope behind
 * a refused sign-in. Lock-step would have stopped at the 535, so pipelining must too: the
 * message never leaves, and the result is the authentication error. */
static void
test_auth_pipelined_refused_but_accepted (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    PIPELINING_CHUNKING_AUTH_PLAIN
    "send 535 5.7.8 Error: authentication failed: bad credentials\n"
    "expect! MAIL FROM:<ann@example.org>\n"
    "send 250 2.1.0 Ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 2.1.5 Ok\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchMessage) message = make_message ();

  send_over_tls_as_alice (&run, server, message);

  g_assert_null (run.result);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED);
  g_assert_cmpstr (dispatch_error_get_reply (run.error), ==, "535 5.7.8 Error: authentication failed: bad credentials");
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 0);
  g_assert_false (transcript_has (&run, "C: BDAT*"));
  assert_no_secret (&run);
}

/* With DATA instead of BDAT, a 354 after a refused sign-in must not get the message: a lone
 * "." would deliver an empty one to the accepted recipient, so the client hangs up, which
 * aborts the transaction (RFC 5321 §3.8). */
static void
test_auth_pipelined_refused_before_data (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx.test\n"
    "send 250-PIPELINING\n"
    "send 250 AUTH PLAIN\n"
    "expect AUTH PLAIN *\n"
    "send 535 5.7.8 Error: authentication failed\n"
    "expect! MAIL FROM:<ann@example.org>\n"
    "send 250 2.1.0 Ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 2.1.5 Ok\n"
    "expect! DATA\n"
    "send 354 End data with <CR><LF>.<CR><LF>\n");
  g_autoptr(DispatchMessage) message = make_message ();
  g_autoptr(GBytes) received = NULL;
  g_autofree char *text = NULL;

  send_over_tls_as_alice (&run, server, message);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_AUTH);
  received = dispatch_test_server_get_received (server);
  text = g_strndup (g_bytes_get_data (received, NULL), g_bytes_get_size (received));
  g_assert_true (g_str_has_suffix (text, "\r\nDATA\r\n"));
  g_assert_false (transcript_has (&run, "C: QUIT"));
  g_assert_false (transcript_has (&run, "?: (message data*"));
}

/* A big message waits for the envelope's replies before its upload: a refused sign-in costs
 * no upload at all. */
static void
test_auth_pipelined_big_message (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    PIPELINING_CHUNKING_AUTH_PLAIN
    "send 535 5.7.8 Error: authentication failed\n"
    "expect! MAIL FROM:<ann@example.org>\n"
    "send 530 5.7.0 Authentication required\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 503 5.5.1 Error: need MAIL command\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *dir = g_dir_make_tmp ("dispatch-session-XXXXXX", NULL);
  g_autofree char *path = attach_random_file (message, dir, 3 * 1024 * 1024);

  send_over_tls_as_alice (&run, server, message);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED);
  g_assert_false (transcript_has (&run, "C: BDAT*"));
  g_assert_cmpuint (run.last_sent, ==, 0);
  g_unlink (path);
  g_rmdir (dir);
}

/* 334 to an AUTH PLAIN that carried its response: the server read the MAIL line as a SASL
 * answer, so the dialogue is out of step and the connection is closed without QUIT. */
static void
test_auth_pipelined_challenge (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    PIPELINING_CHUNKING_AUTH_PLAIN
    "send 334 \n");
  g_autoptr(DispatchMessage) message = make_message ();

  send_over_tls_as_alice (&run, server, message);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_AUTH);
  g_assert_cmpstr (dispatch_error_get_reply (run.error), ==, "334");
  assert_no_secret (&run);
}

/* LOGIN needs more turns: with PIPELINING offered it still ends its group, or the server would
 * take the MAIL line for the user name. */
static void
test_auth_login_not_pipelined (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "tls\n"
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx.test\n"
    "send 250-PIPELINING\n"
    "send 250-CHUNKING\n"
    "send 250 AUTH LOGIN\n"
    "expect AUTH LOGIN\n"
    "send 334 VXNlcm5hbWU6\n"
    "expect YWxpY2U=\n"
    "send 334 UGFzc3dvcmQ6\n"
    "expect czNjcmV0LVBhNTV3b3JkIQ==\n"
    "send 235 ok\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "bdat\n"
    "send 250 ok: queued as LOGIN2\n"
    "expect! QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchMessage) message = make_message ();

  send_over_tls_as_alice (&run, server, message);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->auth_mechanism, ==, "LOGIN");
  g_assert_cmpstr (run.result->queue_id, ==, "LOGIN2");
  assert_no_secret (&run);
}

/* No password in clear unless the user said so, even when the server offers AUTH. */
static void
test_plaintext_auth_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 AUTH PLAIN LOGIN\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "alice");
  run_session (&run, account, PASSWORD, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_UNAVAILABLE);
  g_assert_false (transcript_has (&run, "C: AUTH*"));
}

static void
test_plaintext_auth_allowed (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 AUTH PLAIN LOGIN CRAM-MD5\n"
    "expect AUTH CRAM-MD5\n"
    "send 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\n"
    "expect YWxpY2UgKg==*\n"
    "send 235 ok\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  guint16 port = dispatch_test_server_start (server);
  g_autoptr(GError) server_error = NULL;

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "alice");
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  run_session (&run, account, PASSWORD, NULL);
  /* Over a clear connection CRAM-MD5 comes first: it does not reveal the password. The exact
   * digest is checked in test-smtp-auth; here the server's pattern only fixes the user. */
  dispatch_test_server_finish (server, &server_error);
  g_assert_true (transcript_has (&run, "C: AUTH CRAM-MD5"));
}

static void
test_one_recipient_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 PIPELINING\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect! RCPT TO:<nobody@example.net>\n"
    "send 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\n"
    "expect! DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 2.0.0 Ok: queued as PART1\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  DispatchSmtpRecipient *refused;
  guint16 port = dispatch_test_server_start (server);

  dispatch_message_set_to (message, "bob@example.net, nobody@example.net");
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "PART1");
  g_assert_cmpuint (run.result->accepted->len, ==, 1);
  g_assert_cmpuint (run.result->refused->len, ==, 1);
  refused = g_ptr_array_index (run.result->refused, 0);
  g_assert_cmpstr (refused->address, ==, "nobody@example.net");
  g_assert_cmpuint (refused->code, ==, 550);
  g_assert_nonnull (strstr (refused->reply, "User unknown"));
  g_assert_cmpuint (run.recipients->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (run.recipients, 1), ==, "nobody@example.net 550");
}

static void
test_all_recipients_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 PIPELINING\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 550 5.1.1 no such user\n"
    "expect! DATA\n"
    "send 554 5.5.1 Error: no valid recipients\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_RECIPIENTS_REFUSED);
  g_assert_nonnull (strstr (dispatch_error_get_reply (run.error), "bob@example.net: 550 5.1.1 no such user"));
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 0);
}

static void
test_sender_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 553 5.7.1 Sender address rejected: not owned by user\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_SENDER_REFUSED);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_SENDER);
}

static void
test_552_after_data (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 552 5.3.4 Message size exceeds fixed limit\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_MESSAGE_TOO_LARGE);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_DATA);
  g_assert_cmpstr (dispatch_error_get_reply (run.error), ==, "552 5.3.4 Message size exceeds fixed limit");
}

static void
test_554_after_data (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 554 5.7.1 Message rejected as spam\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_MESSAGE_REFUSED);
}

/* SIZE declared by the server: a bigger message is refused before MAIL. */
static void
test_size_exceeded (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx\n"
    "send 250 SIZE 100\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_MESSAGE_TOO_LARGE);
  g_assert_false (transcript_has (&run, "C: MAIL*"));
  g_assert_nonnull (dispatch_error_get_hint (run.error));
}

/* ─── Broken servers ────────────────────────────────────────────────────────────────────── */

static void
test_connection_dropped_mid_data (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data-partial 200\n"
    "close\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_CONNECTION_LOST);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_DATA);
  g_assert_cmpint (last_state (&run), ==, DISPATCH_SMTP_STATE_FAILED);
}

static void
test_eof_mid_reply (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send-raw 250-mx\\r\\n250-PIPELI\n"
    "close\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_CONNECTION_LOST);
  g_assert_nonnull (strstr (run.error->message, "middle of a reply"));
}

static void
test_malformed_reply (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send HTTP/1.1 400 Bad Request\n"
    "close\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_GREETING);
}

static void
test_endless_reply_line (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("endless\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autoptr(GError) server_error = NULL;
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  dispatch_test_server_finish (server, &server_error);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_GREETING);
}

static void
test_timeout (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "stall\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);
  gint64 started;

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_timeout (account, 1);
  started = g_get_monotonic_time ();
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_TIMEOUT);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_HELLO);
  /* Bounded by the timeout, not by the server's patience (generous for a loaded machine). */
  g_assert_cmpint (g_get_monotonic_time () - started, <, 20 * G_TIME_SPAN_SECOND);
}

/* The final reply after the data is bounded by the same timeout. */
static void
test_timeout_after_data (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "stall\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_timeout (account, 1);
  run_session (&run, account, NULL, message);
  finish_server (server);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_TIMEOUT);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_DATA);
}

static void
test_cancel_mid_transfer (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data-partial 1000\n"
    "stall\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autofree char *dir = g_dir_make_tmp ("dispatch-session-XXXXXX", NULL);
  g_autofree char *path = attach_random_file (message, dir, 16 * 1024 * 1024);
  guint16 port;

  port = dispatch_test_server_start (server);
  run_init (&run);
  run.cancel_on_progress = TRUE;
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (last_state (&run), ==, DISPATCH_SMTP_STATE_FAILED);
  /* "At once": far below the 10 s timeout the stalled server would otherwise cost. */
  g_assert_cmpint (run.finished_at - run.cancelled_at, <, 5 * G_TIME_SPAN_SECOND);

  g_unlink (path);
  g_rmdir (dir);
}

/* Bad input never reaches the wire. */
static void
test_invalid_message (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchAccount) account = make_account (1, DISPATCH_SMTP_SECURITY_NONE);
  g_autoptr(DispatchMessage) message = make_message ();

  dispatch_message_set_subject (message, "Hi\r\nBcc: victim@example.com");
  run_init (&run);
  run_session (&run, account, NULL, message);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_INVALID_INPUT);
  g_assert_false (transcript_has (&run, "?: Connecting*"));
}

static void
test_connection_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port;

  /* A port that was just free and has no listener. */
  g_assert_true (g_socket_bind (socket, any, TRUE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_UNAVAILABLE);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_CONNECT);
}

static void
test_host_not_found (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchAccount) account = make_account (25, DISPATCH_SMTP_SECURITY_NONE);
  g_autoptr(DispatchMessage) message = make_message ();

  /* RFC 6761: .invalid never resolves. */
  dispatch_account_set_host (account, "no-such-host.invalid");
  run_init (&run);
  run_session (&run, account, NULL, message);
  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_HOST_NOT_FOUND);
}

/* ─── The engine against the world (issue 10) ───────────────────────────────────────────── */

/* Haraka answers a QUIT pipelined after the data with 503 and keeps the connection open. The
 * message is in; the 503 ends the session at once. */
static void
test_quit_503_kept_open (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 haraka.test ESMTP Haraka ready\n"
    "expect EHLO *\n"
    "send 250-haraka.test Hello\n"
    "send 250 PIPELINING\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 sender <ann@example.org> OK\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 recipient <bob@example.net> OK\n"
    "expect! DATA\n"
    "send 354 go ahead, make my day\n"
    "data\n"
    "send 250 Message Queued (H4R4K4)\n"
    "expect QUIT\n"
    "send 503 5.5.0 Bad sequence of commands - pipelined after end of DATA\n"
    "stall\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);
  gint64 started;

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_timeout (account, 60);
  started = g_get_monotonic_time ();
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->final_reply, ==, "250 Message Queued (H4R4K4)");
  assert_transcript_has (&run, "S: 503 5.5.0 Bad sequence*");
  /* Not the 60 s timeout, nor the server's 30 s of patience (generous for a loaded machine). */
  g_assert_cmpint (run.finished_at - started, <, 20 * G_TIME_SPAN_SECOND);
}

/* No answer to QUIT at all: a short grace, then the session ends; the message was sent. */
static void
test_quit_unanswered (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx.test\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok: queued as SILENT\n"
    "expect QUIT\n"
    "stall\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);
  gint64 started;

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_timeout (account, 60);
  started = g_get_monotonic_time ();
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "SILENT");
  g_assert_cmpint (run.finished_at - started, <, 20 * G_TIME_SPAN_SECOND);
}

/* A server stricter than RFC 2920 answers 503 to the commands that followed a successful
 * AUTH in the same flight. The send is done again in lock-step, transparently, and the
 * transcript says so. */
#define STRICT_GREETING \
    "send 220 strict.test ESMTP\n" \
    "expect EHLO *\n" \
    "send 250-strict.test\n" \
    "send 250-PIPELINING\n" \
    "send 250 AUTH PLAIN\n" \
    "expect AUTH PLAIN *\n" \
    "send 235 2.7.0 Authentication successful\n"

static void
test_pipelining_refused_retry (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    STRICT_GREETING
    "expect! MAIL FROM:<ann@example.org>\n"
    "send 503 5.5.0 Bad sequence of commands - pipelined\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 503 5.5.1 need MAIL first\n"
    "expect! DATA\n"
    "send 503 5.5.1 need RCPT first\n"
    "expect QUIT\n"
    "send 221 bye\n"
    "reconnect\n"
    STRICT_GREETING
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 2.1.0 Ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 2.1.5 Ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 2.0.0 Ok: queued as STRICT1\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);
  guint retry;

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "alice");
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "STRICT1");
  g_assert_cmpstr (run.result->auth_mechanism, ==, "PLAIN");
  g_assert_cmpuint (run.result->accepted->len, ==, 1);
  g_assert_cmpuint (run.result->refused->len, ==, 0);
  g_assert_false (run.result->used_pipelining);
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 1);
  retry = transcript_index (&run, "?: *sending again one command at a time*");
  /* The second time, each command waits for the reply to the one before. */
  for (guint i = retry; i < run.transcript->len; i++)
    if (g_pattern_match_simple ("C: RCPT TO:*", g_ptr_array_index (run.transcript, i)))
      {
        g_assert_cmpstr (g_ptr_array_index (run.transcript, i - 1), ==, "S: 250 2.1.0 Ok");
        break;
      }
  assert_no_secret (&run);
}

/* RFC 8996: a server that negotiates TLS 1.0 gets nothing — not the EHLO, not the password.
 * GnuTLS is made to offer only TLS 1.0 (both ends, as this process is both), in a child
 * process so that no other test is affected. */
static void
test_tls_1_0_refused (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autofree char *text = NULL;
  guint16 port;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  g_setenv ("G_TLS_GNUTLS_PRIORITY", "NORMAL:-VERS-ALL:+VERS-TLS1.0", TRUE);
  server = dispatch_test_server_new (
    "send 220 old.test ESMTP\n"
    "expect EHLO *\n"
    "send 250-old.test\n"
    "send 250-AUTH PLAIN\n"
    "send 250 STARTTLS\n"
    "expect STARTTLS\n"
    "send 220 go ahead\n"
    "tls\n");
  message = make_message ();
  port = dispatch_test_server_start (server);
  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_STARTTLS);
  dispatch_account_set_user (account, "alice");
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_TLS_FAILED);
  g_assert_cmpint (dispatch_error_get_stage (run.error), ==, DISPATCH_SMTP_STAGE_TLS);
  g_assert_nonnull (strstr (run.error->message, "TLS 1.0"));
  /* After the handshake, not a byte: the server saw its STARTTLS last. */
  received = dispatch_test_server_get_received (server);
  text = g_strndup (g_bytes_get_data (received, NULL), g_bytes_get_size (received));
  g_assert_true (g_str_has_suffix (text, "\r\nSTARTTLS\r\n"));
  assert_no_secret (&run);
}

/* A "235" slipped in behind the EHLO reply would pass for the answer to AUTH: bytes that come
 * when no reply is due end the session before the next command. */
static void
test_unsolicited_reply (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send-raw 250-mx.test\\r\\n250-PIPELINING\\r\\n250 AUTH PLAIN\\r\\n235 2.7.0 Authentication successful\\r\\n\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  g_autoptr(GBytes) received = NULL;
  g_autofree char *text = NULL;
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "alice");
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL);
  g_assert_cmpstr (dispatch_error_get_reply (run.error), ==, "235 2.7.0 Authentication successful");
  received = dispatch_test_server_get_received (server);
  text = g_strndup (g_bytes_get_data (received, NULL), g_bytes_get_size (received));
  g_assert_null (strstr (text, "AUTH"));
  g_assert_false (transcript_has (&run, "C: QUIT"));
}

/* 421 is the one reply a server may send unasked, before it closes: a lost connection to try
 * again, not an attack. */
static void
test_unsolicited_421 (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send-raw 250 mx.test\\r\\n421 4.3.2 Shutting down\\r\\n\n"
    "close\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_error (run.error, DISPATCH_ERROR, DISPATCH_ERROR_CONNECTION_LOST);
  g_assert_cmpstr (dispatch_error_get_reply (run.error), ==, "421 4.3.2 Shutting down");
}

/* Cancel after the server's 250 to the message: it was sent, and the result says so (a
 * "cancelled" would make the user send it twice). */
static void
test_cancel_after_accepted (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250 mx.test\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok: queued as C9\n"
    "stall\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  run.cancel_on_line = "S: 250 ok: queued as C9";
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_true (g_cancellable_is_cancelled (run.cancellable));
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "C9");
}

/* Replies that arrive one byte per write, and a reply dribbled out slower in total than the
 * timeout but never idle that long: the timeout is for silence, not for the whole reply. */
static void
test_replies_byte_by_byte (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "drip 0 220-mx.test ESMTP\n"
    "drip 0 220 second greeting line\n"
    "expect EHLO *\n"
    "drip 0 250-mx.test\n"
    "drip 0 250-PIPELINING\n"
    "drip 0 250 CHUNKING\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "drip 0 250 2.1.0 Ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "drip 0 250 2.1.5 Ok\n"
    "bdat\n"
    "drip 0 250 2.0.0 Ok: queued as DRIP\n"
    "expect! QUIT\n"
    "drip 0 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "DRIP");
  g_assert_true (run.result->used_chunking);
  assert_transcript_has (&run, "S: 220 second greeting line");
  assert_transcript_has (&run, "S: 221 bye");
}

static void
test_replies_slow_drip (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "drip 150 220 slow.test ESMTP\n"
    "expect EHLO *\n"
    "send 250 slow.test\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "drip 150 250 ok: queued as SLOW\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  /* Each reply takes 2-3 s in all, a byte every 150 ms. */
  dispatch_account_set_timeout (account, 1);
  run_session (&run, account, NULL, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "SLOW");
}

/* Keywords are case-insensitive (RFC 5321 §2.4), and "SIZE 0" means no fixed limit (RFC 1870):
 * a big message is not refused up front. */
static void
test_ehlo_lower_case_size_0 (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (
    "send 220 mx.test ESMTP\n"
    "expect EHLO *\n"
    "send 250-mx.test\n"
    "send 250-pipelining\n"
    "send 250-size 0\n"
    "send 250-auth=plain\n"
    "send 250 auth plain login\n"
    "expect AUTH PLAIN *\n"
    "send 235 ok\n"
    "expect! MAIL FROM:<ann@example.org> SIZE=*\n"
    "send 250 ok\n"
    "expect! RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect! DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok: queued as LOWER\n"
    "expect QUIT\n"
    "send 221 bye\n");
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint16 port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "alice");
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "LOWER");
  g_assert_cmpstr (run.result->auth_mechanism, ==, "PLAIN");
  g_assert_true (run.result->used_pipelining);
}

/* An EHLO reply as big as the reply caps allow, listing tens of thousands of mechanisms: read
 * and parsed in linear time, the list bounded, the send unaffected. */
static void
test_huge_ehlo (void)
{
  g_auto(Run) run = { 0 };
  g_autoptr(GString) script = g_string_new ("send 220 big.test ESMTP\nexpect EHLO *\nsend 250-big.test\n");
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = make_message ();
  guint n = 0;
  guint16 port;

  for (guint line = 0; line < 120; line++)
    {
      g_string_append (script, "send 250-AUTH");
      for (guint i = 0; i < 560; i++)
        g_string_append_printf (script, " M%u", n++);
      g_string_append_c (script, '\n');
    }
  g_string_append (script,
    "send 250 AUTH PLAIN\n"
    "expect AUTH PLAIN *\n"
    "send 235 ok\n"
    "expect MAIL FROM:<ann@example.org>\n"
    "send 250 ok\n"
    "expect RCPT TO:<bob@example.net>\n"
    "send 250 ok\n"
    "expect DATA\n"
    "send 354 go\n"
    "data\n"
    "send 250 ok: queued as BIG\n"
    "expect QUIT\n"
    "send 221 bye\n");
  server = dispatch_test_server_new (script->str);
  port = dispatch_test_server_start (server);

  run_init (&run);
  account = make_account (port, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_user (account, "alice");
  dispatch_account_set_allow_plaintext_auth (account, TRUE);
  run_session (&run, account, PASSWORD, message);
  finish_server (server);

  g_assert_no_error (run.error);
  g_assert_cmpstr (run.result->queue_id, ==, "BIG");
  g_assert_cmpuint (n, >, 60000);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  dispatch_engine_init ();

  g_test_add_func ("/session/plain-lockstep", test_plain_lockstep);
  g_test_add_func ("/session/ehlo-name", test_ehlo_name);
  g_test_add_func ("/session/helo-fallback", test_helo_fallback);
  g_test_add_func ("/session/ehlo-refused", test_ehlo_refused);
  g_test_add_func ("/session/starttls-auth-pipelining", test_starttls_auth_pipelining);
  g_test_add_func ("/session/auth-login", test_auth_login);
  g_test_add_func ("/session/implicit-tls", test_implicit_tls);
  g_test_add_func ("/session/bdat-one-flight", test_bdat_one_flight);
  g_test_add_func ("/session/bdat-chunks", test_bdat_chunks);
  g_test_add_func ("/session/8bitmime", test_8bitmime);
  g_test_add_func ("/session/7bit-without-8bitmime", test_7bit_without_8bitmime);
  g_test_add_func ("/session/smtputf8", test_smtputf8);
  g_test_add_func ("/session/smtputf8-missing", test_smtputf8_missing);
  g_test_add_func ("/session/xoauth2", test_xoauth2);
  g_test_add_func ("/session/starttls-not-offered", test_starttls_not_offered);
  g_test_add_func ("/session/starttls-injection", test_starttls_injection);
  g_test_add_func ("/session/certificate/untrusted", test_certificate_untrusted);
  g_test_add_func ("/session/certificate/wrong-host", test_certificate_wrong_host);
  g_test_add_func ("/session/certificate/expired", test_certificate_expired);
  g_test_add_func ("/session/certificate/pinned", test_certificate_pinned);
  g_test_add_func ("/session/certificate/wrong-pin", test_certificate_wrong_pin);
  g_test_add_func ("/session/greeting-554", test_greeting_554);
  g_test_add_func ("/session/auth-535", test_auth_535);
  g_test_add_func ("/session/auth-534", test_auth_534);
  g_test_add_func ("/session/auth-pipelined/one-flight", test_auth_pipelined_one_flight);
  g_test_add_func ("/session/auth-pipelined/refused", test_auth_pipelined_refused);
  g_test_add_func ("/session/auth-pipelined/refused-but-accepted", test_auth_pipelined_refused_but_accepted);
  g_test_add_func ("/session/auth-pipelined/refused-before-data", test_auth_pipelined_refused_before_data);
  g_test_add_func ("/session/auth-pipelined/big-message", test_auth_pipelined_big_message);
  g_test_add_func ("/session/auth-pipelined/challenge", test_auth_pipelined_challenge);
  g_test_add_func ("/session/auth-pipelined/not-for-login", test_auth_login_not_pipelined);
  g_test_add_func ("/session/plaintext-auth-refused", test_plaintext_auth_refused);
  g_test_add_func ("/session/plaintext-auth-allowed", test_plaintext_auth_allowed);
  g_test_add_func ("/session/one-recipient-refused", test_one_recipient_refused);
  g_test_add_func ("/session/all-recipients-refused", test_all_recipients_refused);
  g_test_add_func ("/session/sender-refused", test_sender_refused);
  g_test_add_func ("/session/552-after-data", test_552_after_data);
  g_test_add_func ("/session/554-after-data", test_554_after_data);
  g_test_add_func ("/session/size-exceeded", test_size_exceeded);
  g_test_add_func ("/session/dropped-mid-data", test_connection_dropped_mid_data);
  g_test_add_func ("/session/eof-mid-reply", test_eof_mid_reply);
  g_test_add_func ("/session/malformed-reply", test_malformed_reply);
  g_test_add_func ("/session/endless-reply-line", test_endless_reply_line);
  g_test_add_func ("/session/timeout", test_timeout);
  g_test_add_func ("/session/timeout-after-data", test_timeout_after_data);
  g_test_add_func ("/session/cancel-mid-transfer", test_cancel_mid_transfer);
  g_test_add_func ("/session/invalid-message", test_invalid_message);
  g_test_add_func ("/session/connection-refused", test_connection_refused);
  g_test_add_func ("/session/host-not-found", test_host_not_found);
  g_test_add_func ("/session/quit-503-kept-open", test_quit_503_kept_open);
  g_test_add_func ("/session/quit-unanswered", test_quit_unanswered);
  g_test_add_func ("/session/pipelining-refused-retry", test_pipelining_refused_retry);
  g_test_add_func ("/session/tls-1.0-refused", test_tls_1_0_refused);
  g_test_add_func ("/session/unsolicited-reply", test_unsolicited_reply);
  g_test_add_func ("/session/unsolicited-421", test_unsolicited_421);
  g_test_add_func ("/session/cancel-after-accepted", test_cancel_after_accepted);
  g_test_add_func ("/session/replies-byte-by-byte", test_replies_byte_by_byte);
  g_test_add_func ("/session/replies-slow-drip", test_replies_slow_drip);
  g_test_add_func ("/session/ehlo-lower-case-size-0", test_ehlo_lower_case_size_0);
  g_test_add_func ("/session/huge-ehlo", test_huge_ehlo);

  return g_test_run ();
}
