/* fuzz-smtp-session.c — libFuzzer target: a whole send driven by fuzzed server bytes.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: one flags byte, then everything "the server" says on the connection.
 *
 *   flags & 0x01  sign in as "user" with a password (plaintext AUTH allowed: no TLS here)
 *   flags & 0x02  non-ASCII text and a UTF-8 recipient (8BITMIME / SMTPUTF8 paths)
 *   flags & 0x04  "Test connection" (test_async) instead of a send
 *   flags & 0x08  three recipients: To, Cc and Bcc
 *   flags & 0x10  one small attachment (multipart/mixed)
 *   flags & 0x20  an OAuth2 bearer token as well (XOAUTH2 when the server offers it)
 *   flags & 0x80  the server writes all its bytes at once, before the client says anything
 *
 * so '@' is a plain send, 'A' a send with AUTH, 'I' AUTH and three recipients, 'a' XOAUTH2.
 *
 * A thread plays the server on a loopback listener made once: it accepts the client and hands
 * out the bytes one reply at a time — the first at once (the greeting), then one for each
 * command line the client sends, skipping message data (after a 354 up to the ".", and the
 * octets of each BDAT) — then shuts its side down for writing, and reads and drops whatever
 * the client says until the client closes. The client may believe only replies to commands
 * it sent, so replies written before their command end the session (that path is what flag
 * 0x80 fuzzes); and because the server half-closes, running out of bytes is an immediate EOF
 * rather than a wait for the (1 s) timeout, so one input takes a few milliseconds.
 *
 * Besides crashes, leaks and hangs, each run checks what a user relies on: the outcome is
 * either a result or a DISPATCH_ERROR, every signal comes before the callback, a send that
 * succeeds delivered to someone, and no secret ever shows up in the transcript or an error.
 */
#include <string.h>
#include <glib/gstdio.h>

#include "dispatch-engine.h"
#include "dispatch-fuzz.h"

#define USER     "user"
#define PASSWORD "fuzz-Pa55word"
#define TOKEN    "ya29.fuzz-token"

enum
{
  FLAG_AUTH       = 1 << 0,
  FLAG_UTF8       = 1 << 1,
  FLAG_TEST       = 1 << 2,
  FLAG_RECIPIENTS = 1 << 3,
  FLAG_ATTACHMENT = 1 << 4,
  FLAG_OAUTH2     = 1 << 5,
};

/* Made once: the listener the server thread accepts on, and the attachment. */
static GSocket *listener;
static guint16 listener_port;
static char *attachment_dir;
static char *attachment_path;
/* Every form in which a secret could leak: raw, and the base64 payloads of PLAIN, LOGIN and
 * XOAUTH2. */
static char *secrets[5];

typedef struct
{
  const guint8 *data;
  gsize         size;
  gboolean      all_at_once;
} Script;

/* The end of the reply that starts at @pos: its last line is one without '-' after the code
 * (or whatever is left, for bytes that are no reply at all). */
static gsize
reply_end (const Script *script,
           gsize         pos)
{
  while (pos < script->size)
    {
      const guint8 *lf = memchr (script->data + pos, '\n', script->size - pos);
      gsize line = pos;

      if (lf == NULL)
        return script->size;
      pos = lf - script->data + 1;
      if (pos - line < 5 || script->data[line + 3] != '-')
        return pos;
    }
  return pos;
}

/* Writes the next reply; returns the offset after it. */
static gsize
send_reply (GSocket      *client,
            const Script *script,
            gsize         pos)
{
  gsize end = reply_end (script, pos);

  if (end > pos)
    g_socket_send (client, (const char *) script->data + pos, end - pos, NULL, NULL);
  return end;
}

/* One reply per command line the client sends, as a server would answer. */
static void
answer_commands (GSocket      *client,
                 const Script *script)
{
  g_autoptr(GByteArray) in = g_byte_array_new ();
  gboolean in_data = FALSE;
  guint64 skip = 0;
  gsize pos = send_reply (client, script, 0);

  while (pos < script->size)
    {
      char chunk[4096];
      gssize n = g_socket_receive (client, chunk, sizeof chunk, NULL, NULL);

      if (n <= 0)
        return;
      g_byte_array_append (in, (const guint8 *) chunk, n);

      while (pos < script->size)
        {
          const guint8 *lf;
          g_autofree char *line = NULL;

          if (skip > 0)
            {
              gsize take = MIN (skip, in->len);

              g_byte_array_remove_range (in, 0, take);
              skip -= take;
              if (skip > 0)
                break;
              pos = send_reply (client, script, pos);
              continue;
            }

          lf = memchr (in->data, '\n', in->len);
          if (lf == NULL)
            break;
          line = g_strndup ((const char *) in->data, lf - in->data);
          g_byte_array_remove_range (in, 0, lf - in->data + 1);
          g_strchomp (line);

          if (in_data)
            {
              in_data = !g_str_equal (line, ".");
              if (!in_data)
                pos = send_reply (client, script, pos);
            }
          else if (g_ascii_strncasecmp (line, "BDAT ", 5) == 0)
            {
              skip = g_ascii_strtoull (line + 5, NULL, 10);
              if (skip == 0)
                pos = send_reply (client, script, pos);
            }
          else
            {
              in_data = g_ascii_strcasecmp (line, "DATA") == 0 &&
                        pos + 3 <= script->size && memcmp (script->data + pos, "354", 3) == 0;
              pos = send_reply (client, script, pos);
            }
        }
    }
}

static gpointer
serve (gpointer user_data)
{
  const Script *script = user_data;
  g_autoptr(GSocket) client = NULL;
  char sink[4096];

  client = g_socket_accept (listener, NULL, NULL);
  if (client == NULL)
    return NULL;
  /* Only a bound on a broken run: a healthy client closes as soon as it is done. */
  g_socket_set_timeout (client, 10);

  if (script->all_at_once && script->size > 0)
    g_socket_send (client, (const char *) script->data, script->size, NULL, NULL);
  else
    answer_commands (client, script);
  g_socket_shutdown (client, FALSE, TRUE, NULL);

  while (g_socket_receive (client, sink, sizeof sink, NULL, NULL) > 0)
    ;
  g_socket_close (client, NULL);
  return NULL;
}

static void
cleanup (void)
{
  if (attachment_path != NULL)
    g_unlink (attachment_path);
  if (attachment_dir != NULL)
    g_rmdir (attachment_dir);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *xoauth2 = NULL;

  /* No proxy stands between the client and a loopback server; and libproxy's C++ exceptions
   * cannot unwind through a statically linked ASan runtime. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  dispatch_fuzz_init ();
  dispatch_engine_init ();

  listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, 0);
  g_socket_bind (listener, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (listener, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (listener, 10);
  bound = g_socket_get_local_address (listener, &error);
  g_assert_no_error (error);
  listener_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  attachment_dir = g_dir_make_tmp ("dispatch-fuzz-XXXXXX", &error);
  g_assert_no_error (error);
  attachment_path = g_build_filename (attachment_dir, "notes.txt", NULL);
  g_file_set_contents (attachment_path, "EHLO, STARTTLS, AUTH, DATA.\n", -1, &error);
  g_assert_no_error (error);
  atexit (cleanup);

  plain = g_strdup_printf ("%c%s%c%s", '\0', USER, '\0', PASSWORD);
  xoauth2 = g_strdup_printf ("user=%s\001auth=Bearer %s\001\001", USER, TOKEN);
  secrets[0] = g_strdup (PASSWORD);
  secrets[1] = g_strdup (TOKEN);
  secrets[2] = g_base64_encode ((const guchar *) plain, strlen (USER) + strlen (PASSWORD) + 2);
  secrets[3] = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));
  secrets[4] = g_base64_encode ((const guchar *) xoauth2, strlen (xoauth2));
  return 0;
}

static gboolean
contains (const guint8 *data,
          gsize         size,
          const char   *needle)
{
  gsize len = strlen (needle);

  for (gsize i = 0; i + len <= size; i++)
    if (memcmp (data + i, needle, len) == 0)
      return TRUE;
  return FALSE;
}

static void
assert_no_secret (const char *text)
{
  if (text == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    if (strstr (text, secrets[i]) != NULL)
      g_error ("a secret reached the user: %s", text);
}

typedef struct
{
  gboolean            test;
  gboolean            server_knows_secret;  /* the input itself holds one */
  gboolean            done;
  DispatchSmtpState   last_state;
  guint               n_recipient_events;
  DispatchSmtpResult *result;
  GError             *error;
} Outcome;

static void
on_state_changed (DispatchSmtpSession *session,
                  DispatchSmtpState    state,
                  Outcome             *outcome)
{
  g_assert_false (outcome->done);
  outcome->last_state = state;
}

static void
on_transcript (DispatchSmtpSession   *session,
               DispatchSmtpDirection  direction,
               const char            *line,
               Outcome               *outcome)
{
  g_assert_false (outcome->done);
  g_assert_true (g_utf8_validate (line, -1, NULL));
  /* What the server says is its own business, even when it repeats a secret back at us. */
  if (direction != DISPATCH_SMTP_DIRECTION_SERVER)
    assert_no_secret (line);
}

static void
on_progress (DispatchSmtpSession *session,
             guint64              sent,
             guint64              total,
             Outcome             *outcome)
{
  g_assert_false (outcome->done);
  g_assert_cmpuint (sent, <=, total);
}

static void
on_recipient (DispatchSmtpSession *session,
              const char          *address,
              guint                code,
              const char          *reply,
              Outcome             *outcome)
{
  g_assert_false (outcome->done);
  g_assert_true (g_utf8_validate (reply, -1, NULL));
  outcome->n_recipient_events++;
}

static void
on_finished (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Outcome *outcome = user_data;
  DispatchSmtpSession *session = DISPATCH_SMTP_SESSION (source);

  if (outcome->test)
    outcome->result = dispatch_smtp_session_test_finish (session, result, &outcome->error);
  else
    outcome->result = dispatch_smtp_session_send_finish (session, result, &outcome->error);
  outcome->done = TRUE;
}

static DispatchMessage *
make_message (guint flags)
{
  DispatchMessage *message = dispatch_message_new ();

  dispatch_message_set_from (message, "Ann <ann@example.org>");
  dispatch_message_set_subject (message, "Lab 3");
  if (flags & FLAG_UTF8)
    {
      dispatch_message_set_to (message, "Jörg <jörg@example.org>");
      dispatch_message_set_text (message, "Grüße aus dem Labor.\n.\nEnde.\n");
    }
  else
    {
      dispatch_message_set_to (message, "Bob <bob@example.org>");
      dispatch_message_set_text (message, "Hi Bob,\n.\nhere it is.\n");
    }
  if (flags & FLAG_RECIPIENTS)
    {
      dispatch_message_set_cc (message, "carol@example.org");
      dispatch_message_set_bcc (message, "dave@example.net");
    }
  if (flags & FLAG_ATTACHMENT)
    {
      g_autoptr(GFile) file = g_file_new_for_path (attachment_path);

      dispatch_message_add_attachment (message, file);
    }
  return message;
}

static void
check_outcome (const Outcome   *outcome,
               DispatchMessage *message,
               guint            flags)
{
  const DispatchSmtpResult *result = outcome->result;

  g_assert_true ((result == NULL) != (outcome->error == NULL));

  if (outcome->error != NULL)
    {
      g_assert_cmpint (outcome->last_state, ==, DISPATCH_SMTP_STATE_FAILED);
      /* Cancellation is the only G_IO_ERROR that may reach the caller; nobody cancels here. */
      g_assert_true (outcome->error->domain == DISPATCH_ERROR);
      g_assert_true (g_utf8_validate (outcome->error->message, -1, NULL));
      /* Error texts quote the server, so they are only checked when it could not know. */
      if (!outcome->server_knows_secret)
        {
          assert_no_secret (outcome->error->message);
          assert_no_secret (dispatch_error_get_reply (outcome->error));
          assert_no_secret (dispatch_error_get_hint (outcome->error));
        }
      return;
    }

  g_assert_cmpint (outcome->last_state, ==, DISPATCH_SMTP_STATE_DONE);
  g_assert_null (result->tls_version);
  /* A refused sign-in is never "sent": with a sign-in asked for, success means signed in. */
  if (flags & (FLAG_AUTH | FLAG_OAUTH2))
    g_assert_nonnull (result->auth_mechanism);
  else
    g_assert_null (result->auth_mechanism);
  if (result->server_domain != NULL)
    g_assert_true (g_utf8_validate (result->server_domain, -1, NULL));

  if (outcome->test)
    {
      g_assert_cmpuint (result->accepted->len + result->refused->len, ==, 0);
      return;
    }

  /* A send only succeeds when someone got the message, and every recipient is accounted for. */
  g_assert_cmpuint (result->accepted->len, >=, 1);
  g_assert_cmpuint (result->accepted->len + result->refused->len, ==,
                    g_strv_length ((char **) dispatch_message_get_envelope_recipients (message)));
  g_assert_cmpuint (outcome->n_recipient_events, ==, result->accepted->len + result->refused->len);
  g_assert_nonnull (result->final_reply);
  g_assert_true (g_utf8_validate (result->final_reply, -1, NULL));
  if (result->queue_id != NULL)
    g_assert_true (g_utf8_validate (result->queue_id, -1, NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(DispatchAccount) account = NULL;
  g_autoptr(DispatchMessage) message = NULL;
  g_autoptr(DispatchSmtpSession) session = NULL;
  Outcome outcome = { 0 };
  Script script;
  GThread *server;
  guint flags;

  if (size < 1)
    return 0;
  flags = data[0];
  script.data = data + 1;
  script.size = size - 1;
  script.all_at_once = (flags & 0x80) != 0;

  account = dispatch_account_new ();
  dispatch_account_set_host (account, "127.0.0.1");
  dispatch_account_set_port (account, listener_port);
  dispatch_account_set_security (account, DISPATCH_SMTP_SECURITY_NONE);
  dispatch_account_set_helo_name (account, "client.example.org");
  dispatch_account_set_timeout (account, 1);
  if (flags & (FLAG_AUTH | FLAG_OAUTH2))
    {
      dispatch_account_set_user (account, USER);
      dispatch_account_set_allow_plaintext_auth (account, TRUE);
    }

  session = dispatch_smtp_session_new ();
  g_signal_connect (session, "state-changed", G_CALLBACK (on_state_changed), &outcome);
  g_signal_connect (session, "transcript", G_CALLBACK (on_transcript), &outcome);
  g_signal_connect (session, "progress", G_CALLBACK (on_progress), &outcome);
  g_signal_connect (session, "recipient", G_CALLBACK (on_recipient), &outcome);

  server = g_thread_new ("fuzz-server", serve, &script);

  outcome.test = (flags & FLAG_TEST) != 0;
  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    outcome.server_knows_secret |= contains (script.data, script.size, secrets[i]);
  if (outcome.test)
    {
      dispatch_smtp_session_test_async (session, account,
                                        (flags & FLAG_AUTH) ? PASSWORD : NULL,
                                        (flags & FLAG_OAUTH2) ? TOKEN : NULL,
                                        NULL, on_finished, &outcome);
    }
  else
    {
      message = make_message (flags);
      dispatch_smtp_session_send_async (session, account,
                                        (flags & FLAG_AUTH) ? PASSWORD : NULL,
                                        (flags & FLAG_OAUTH2) ? TOKEN : NULL,
                                        message, NULL, on_finished, &outcome);
    }

  while (!outcome.done)
    g_main_context_iteration (NULL, TRUE);
  /* Whatever the finished task still had queued, so that nothing outlives this input. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_thread_join (server);

  check_outcome (&outcome, message, flags);
  g_assert_false (dispatch_smtp_session_is_busy (session));

  g_clear_pointer (&outcome.result, dispatch_smtp_result_free);
  g_clear_error (&outcome.error);
  return 0;
}
