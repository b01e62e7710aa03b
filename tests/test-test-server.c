/* test-test-server.c — the scripted SMTP server and test certificates, seen by a GIO client.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The session tests trust this server to tell them what their client did wrong; these tests make
 * sure it says so, and that a correct client gets through in clear, after STARTTLS and with
 * implicit TLS, validating against the committed test CA.
 */

#include "dispatch-test-server.h"

#include <string.h>

typedef struct {
  GIOStream        *stream;   /* the TCP connection, or TLS over it */
  GDataInputStream *in;
  GTlsCertificateFlags rejected;
} Client;

static void
client_free (Client *client)
{
  g_clear_object (&client->in);
  g_clear_object (&client->stream);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static void
client_set_stream (Client    *client,
                   GIOStream *stream)
{
  g_set_object (&client->stream, stream);
  g_clear_object (&client->in);
  client->in = g_data_input_stream_new (g_io_stream_get_input_stream (stream));
  /* Dropping the line reader at the TLS upgrade must not close the stream under it. */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (client->in), FALSE);
  g_data_input_stream_set_newline_type (client->in, G_DATA_STREAM_NEWLINE_TYPE_LF);
}

static Client *
client_connect (guint16 port)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  Client *client = g_new0 (Client, 1);

  g_socket_client_set_timeout (socket_client, 15);
  connection = g_socket_client_connect_to_host (socket_client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  client_set_stream (client, G_IO_STREAM (connection));

  return client;
}

static void
client_write (Client     *client,
              const char *text)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (client->stream), text, strlen (text),
                             NULL, NULL, &error);
  g_assert_no_error (error);
}

/* One reply line without its CRLF, or NULL at EOF. */
static char *
client_read_line (Client *client)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  char *line = g_data_input_stream_read_line (client->in, &len, NULL, &error);

  g_assert_no_error (error);
  if (line != NULL)
    {
      g_assert_cmpuint (len, >, 0);
      g_assert_cmpint (line[len - 1], ==, '\r');
      line[len - 1] = '\0';
    }

  return line;
}

static void
client_expect (Client     *client,
               const char *expected)
{
  g_autofree char *line = client_read_line (client);

  g_assert_cmpstr (line, ==, expected);
}

static void
client_expect_eof (Client *client)
{
  g_autofree char *line = client_read_line (client);

  g_assert_null (line);
}

static gboolean
on_accept_certificate (GTlsConnection       *connection,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  Client *client = user_data;

  client->rejected = errors;
  return FALSE;
}

static gboolean
client_handshake (Client     *client,
                  const char *host,
                  guint16     port,
                  GError    **error)
{
  g_autoptr(GSocketConnectable) identity = g_network_address_new (host, port);
  g_autofree char *ca_file = dispatch_test_file ("ca.pem");
  g_autoptr(GTlsDatabase) database = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *ciphersuite = NULL;

  database = g_tls_file_database_new (ca_file, &local_error);
  g_assert_no_error (local_error);

  tls = g_tls_client_connection_new (client->stream, identity, &local_error);
  g_assert_no_error (local_error);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), database);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (on_accept_certificate), client);

  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, error))
    return FALSE;

  ciphersuite = g_tls_connection_get_ciphersuite_name (G_TLS_CONNECTION (tls));
  g_test_message ("negotiated %s with %s",
                  g_tls_connection_get_protocol_version (G_TLS_CONNECTION (tls)) ==
                    G_TLS_PROTOCOL_VERSION_TLS_1_3 ? "TLS 1.3" : "not TLS 1.3",
                  ciphersuite);
  client_set_stream (client, tls);

  return TRUE;
}

static gboolean
bytes_contain (GBytes     *bytes,
               const char *needle)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  return g_strstr_len (data, len, needle) != NULL;
}

static void
assert_bytes (GBytes     *bytes,
              const char *expected)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  g_assert_cmpmem (data, len, expected, strlen (expected));
}

static void
test_clear_pipelined (void)
{
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(Client) client = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  server = dispatch_test_server_new (
    "send 220 localhost ESMTP test\n"
    "expect EHLO client.example\n"
    "send 250-localhost\n"
    "send 250 PIPELINING\n"
    "# the client sends the next three without waiting for replies\n"
    "expect MAIL FROM:<a@example.org>\n"
    "send 250 2.1.0 ok\n"
    "expect! RCPT TO:<b@example.org>\n"
    "send 250 2.1.5 ok\n"
    "expect! DATA\n"
    "send 354 go ahead\n"
    "data\n"
    "send 250 2.0.0 queued\n"
    "  expect QUIT\n"
    "send 221 bye\n"
    "close\n");
  port = dispatch_test_server_start (server);

  client = client_connect (port);
  client_expect (client, "220 localhost ESMTP test");
  client_write (client, "EHLO client.example\r\n");
  client_expect (client, "250-localhost");
  client_expect (client, "250 PIPELINING");
  /* Two writes: "expect!" must still count RCPT as pipelined if it trails MAIL a little. */
  client_write (client, "MAIL FROM:<a@example.org>\r\n");
  client_write (client, "RCPT TO:<b@example.org>\r\nDATA\r\n");
  client_expect (client, "250 2.1.0 ok");
  client_expect (client, "250 2.1.5 ok");
  client_expect (client, "354 go ahead");
  client_write (client, "Subject: hi\r\n\r\n..leading dot\r\nend\r\n.\r\n");
  client_expect (client, "250 2.0.0 queued");
  client_write (client, "QUIT\r\n");
  client_expect (client, "221 bye");
  client_expect_eof (client);
  g_clear_pointer (&client, client_free);

  dispatch_test_server_finish (server, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 1);
  message = dispatch_test_server_get_message (server, 0);
  assert_bytes (message, "Subject: hi\r\n\r\n.leading dot\r\nend\r\n");
  received = dispatch_test_server_get_received (server);
  g_assert_true (bytes_contain (received, "EHLO client.example\r\nMAIL FROM:"));
  g_assert_true (bytes_contain (received, "\r\n..leading dot\r\n"));
}

static void
test_starttls_bdat (void)
{
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(Client) client = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  server = dispatch_test_server_new (
    "send 220 localhost ESMTP\n"
    "expect EHLO *\n"
    "send 250-localhost\n"
    "send 250 STARTTLS\n"
    "expect STARTTLS\n"
    "send 220 2.0.0 ready\n"
    "tls\n"
    "expect EHLO *\n"
    "send 250 CHUNKING\n"
    "bdat\n"
    "send 250 2.0.0 chunk\n"
    "bdat\n"
    "send 250 2.0.0 queued\n"
    "expect QUIT\n"
    "send 221 bye\n"
    "close\n");
  port = dispatch_test_server_start (server);

  client = client_connect (port);
  client_expect (client, "220 localhost ESMTP");
  client_write (client, "EHLO c\r\n");
  client_expect (client, "250-localhost");
  client_expect (client, "250 STARTTLS");
  client_write (client, "STARTTLS\r\n");
  client_expect (client, "220 2.0.0 ready");
  client_handshake (client, "localhost", port, &error);
  g_assert_no_error (error);
  client_write (client, "EHLO c\r\n");
  client_expect (client, "250 CHUNKING");
  /* Chunk bytes are opaque: a lone "." line and bare LF must arrive untouched. */
  client_write (client, "BDAT 8\r\nab\r\n.\r\nc");
  client_expect (client, "250 2.0.0 chunk");
  client_write (client, "bdat 3 last\r\nd\ne");
  client_expect (client, "250 2.0.0 queued");
  client_write (client, "QUIT\r\n");
  client_expect (client, "221 bye");
  client_expect_eof (client);
  g_clear_pointer (&client, client_free);

  dispatch_test_server_finish (server, &error);
  g_assert_no_error (error);

  message = dispatch_test_server_get_message (server, 0);
  assert_bytes (message, "ab\r\n.\r\ncd\ne");
  received = dispatch_test_server_get_received (server);
  g_assert_true (bytes_contain (received, "STARTTLS\r\nEHLO c\r\n"));
}

static void
test_implicit_tls_ip (void)
{
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(Client) client = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  server = dispatch_test_server_new ("tls\nsend 220 hi\nexpect QUIT\nsend 221 bye\n");
  port = dispatch_test_server_start (server);

  client = client_connect (port);
  client_handshake (client, "127.0.0.1", port, &error);
  g_assert_no_error (error);
  client_expect (client, "220 hi");
  client_write (client, "QUIT\r\n");
  client_expect (client, "221 bye");
  g_clear_pointer (&client, client_free);

  dispatch_test_server_finish (server, &error);
  g_assert_no_error (error);
}

typedef struct {
  const char           *name;
  GTlsCertificateFlags  flag;
} BadCertificate;

static const BadCertificate bad_certificates[] = {
  { "wrong-host",  G_TLS_CERTIFICATE_BAD_IDENTITY },
  { "expired",     G_TLS_CERTIFICATE_EXPIRED },
  { "self-signed", G_TLS_CERTIFICATE_UNKNOWN_CA },
};

static void
test_bad_certificate (gconstpointer data)
{
  const BadCertificate *bad = data;
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(Client) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cert_name = g_strconcat (bad->name, ".pem", NULL);
  g_autofree char *key_name = g_strconcat (bad->name, "-key.pem", NULL);
  g_autofree char *cert_file = dispatch_test_file (cert_name);
  g_autofree char *key_file = dispatch_test_file (key_name);
  guint16 port;

  server = dispatch_test_server_new ("tls\nsend 220 should not get here\n");
  dispatch_test_server_set_certificate (server, cert_file, key_file);
  port = dispatch_test_server_start (server);

  client = client_connect (port);
  g_assert_false (client_handshake (client, "localhost", port, &error));
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_cmpint (client->rejected & bad->flag, ==, bad->flag);
  g_clear_error (&error);
  g_clear_pointer (&client, client_free);

  g_assert_false (dispatch_test_server_finish (server, &error));
  g_test_message ("server: %s (%s %d)", error->message,
                  g_quark_to_string (error->domain), error->code);
  g_assert_nonnull (strstr (error->message, "step 1 \"tls\": TLS handshake failed"));
}

/* Each case: a script, what the client sends before hanging up, and what the error must say. */
typedef struct {
  const char *script;
  const char *sent;
  const char *reason;
} Mismatch;

static const Mismatch mismatches[] = {
  { "expect HELO *\nsend 250 ok\n", "EHLO x\r\n",
    "step 1 \"expect HELO *\": received \"EHLO x\"" },
  { "expect EHLO *\n", "EHLO x\n",
    "bare LF instead of CRLF" },
  { "expect EHLO *\n", "EHL",
    "step 1 \"expect EHLO *\": the client closed the connection (received before that: \"EHL\")" },
  { "expect EHLO *\n", "EHLO \xff\r\n",
    "received \"EHLO \\xff\"" },
  { "send 220 hi\nexpect! EHLO *\n", "EHLO x\r\n",
    "only after the previous reply had gone out (not pipelined)" },
  { "bdat\n", "BDAT 1O LAST\r\n",
    "received \"BDAT 1O LAST\" instead of \"BDAT <size>[ LAST]\"" },
  { "data\n", "body\r\nno end\r\n",
    "step 1 \"data\": after 14 bytes of the body: the client closed the connection" },
  { "data\n", "body\nbare\r\n.\r\n",
    "bare LF in the body after 0 bytes" },
  { "tls\n", "EHLO x\r\n",
    "step 1 \"tls\": TLS handshake failed" },
};

static void
test_mismatch (gconstpointer data)
{
  const Mismatch *mismatch = data;
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new (mismatch->script);
  g_autoptr(Client) client = client_connect (dispatch_test_server_start (server));
  g_autoptr(GError) error = NULL;

  /* Give the server a moment so "expect!" sees the line arrive after its reply. */
  if (g_str_has_prefix (mismatch->script, "send"))
    client_expect (client, "220 hi");
  client_write (client, mismatch->sent);
  g_clear_pointer (&client, client_free);

  g_assert_false (dispatch_test_server_finish (server, &error));
  g_test_message ("server: %s", error->message);
  g_assert_nonnull (strstr (error->message, mismatch->reason));
}

static void
test_not_pipelined (void)
{
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(Client) client = NULL;
  g_autoptr(GError) error = NULL;

  server = dispatch_test_server_new (
    "expect MAIL *\n"
    "send 250 ok\n"
    "expect! RCPT *\n"
    "send 250 ok\n");
  client = client_connect (dispatch_test_server_start (server));
  client_write (client, "MAIL FROM:<a@example.org>\r\n");
  client_expect (client, "250 ok");
  client_write (client, "RCPT TO:<b@example.org>\r\n");
  client_expect_eof (client);
  g_clear_pointer (&client, client_free);

  g_assert_false (dispatch_test_server_finish (server, &error));
  g_assert_nonnull (strstr (error->message,
                            "step 3 \"expect! RCPT *\": received \"RCPT TO:<b@example.org>\" only after"));
}

static void
test_syntax_error (void)
{
  if (g_test_subprocess ())
    {
      dispatch_test_server_free (dispatch_test_server_new ("send 220 hi\nfrobnicate now\n"));
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*script line 2: unknown step \"frobnicate\"*");
}

static void
test_raw_partial_sleep (void)
{
  g_autoptr(DispatchTestServer) server = NULL;
  g_autoptr(Client) client = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;

  server = dispatch_test_server_new (
    "send-raw 220 a\\x41\\t\\\\\\r\\n220 same reply\\r\\n\n"
    "sleep 50\n"
    "expect DATA\n"
    "send 354 go\n"
    "data-partial 5\n"
    "close\n");
  client = client_connect (dispatch_test_server_start (server));
  client_expect (client, "220 aA\t\\");
  client_expect (client, "220 same reply");
  client_write (client, "DATA\r\n");
  client_expect (client, "354 go");
  client_write (client, "12345");
  client_expect_eof (client);
  client_write (client, "QUIT\r\n");
  g_clear_pointer (&client, client_free);

  dispatch_test_server_finish (server, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dispatch_test_server_get_n_messages (server), ==, 0);
  /* What the client sent after the server closed is still in the transcript. */
  received = dispatch_test_server_get_received (server);
  assert_bytes (received, "DATA\r\n12345QUIT\r\n");
}

static void
test_endless (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("endless\n");
  g_autoptr(Client) client = client_connect (dispatch_test_server_start (server));
  g_autoptr(GError) error = NULL;
  char buffer[4096];
  gsize total = 0;

  g_input_stream_read_all (g_io_stream_get_input_stream (client->stream), buffer, 8, &total,
                           NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, total, "220 AAAA", 8);

  /* Like a client with a line limit: read a while, then give up without reading the rest. */
  while (total < 1024 * 1024)
    {
      gssize n = g_input_stream_read (g_io_stream_get_input_stream (client->stream),
                                      buffer, sizeof buffer, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      total += n;
    }
  g_clear_pointer (&client, client_free);

  dispatch_test_server_finish (server, &error);
  g_assert_no_error (error);
}

static void
test_stall (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("send 220 hi\nstall\n");
  g_autoptr(Client) client = client_connect (dispatch_test_server_start (server));
  g_autoptr(GError) error = NULL;

  client_expect (client, "220 hi");
  client_write (client, "EHLO x\r\n");
  g_clear_pointer (&client, client_free);

  dispatch_test_server_finish (server, &error);
  g_assert_no_error (error);
}

/* A test that fails half-way frees its server early; that must not wait out any timeout. */
static void
test_free_promptly (void)
{
  gint64 start = g_get_monotonic_time ();
  DispatchTestServer *waiting = dispatch_test_server_new ("send 220 hi\n");
  DispatchTestServer *stalled = dispatch_test_server_new ("send 220 hi\nstall\n");
  DispatchTestServer *sleeping = dispatch_test_server_new ("sleep 60000\n");
  g_autoptr(Client) client = NULL;
  g_autoptr(Client) other = NULL;

  dispatch_test_server_start (waiting);
  client = client_connect (dispatch_test_server_start (stalled));
  client_expect (client, "220 hi");
  other = client_connect (dispatch_test_server_start (sleeping));

  dispatch_test_server_free (waiting);
  dispatch_test_server_free (stalled);
  dispatch_test_server_free (sleeping);

  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_TIME_SPAN_SECOND);
}

/* The UI tests drive their client from a GMainLoop: the server must serve while it runs, and
 * _finish must keep the loop's work going, here the close that the script waits for. */
typedef struct {
  GMainLoop         *loop;
  GSocketConnection *connection;
  GDataInputStream  *in;
  gboolean           written;
  gboolean           closed;
} AsyncClient;

static void
on_closed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AsyncClient *async = user_data;
  g_autoptr(GError) error = NULL;

  g_io_stream_close_finish (G_IO_STREAM (source), result, &error);
  g_assert_no_error (error);
  async->closed = TRUE;
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  AsyncClient *async = user_data;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  async->written = TRUE;
  g_io_stream_close_async (G_IO_STREAM (async->connection), G_PRIORITY_DEFAULT, NULL,
                           on_closed, async);
}

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  AsyncClient *async = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (async->in, result, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "220 hi\r");
  g_main_loop_quit (async->loop);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncClient *async = user_data;
  g_autoptr(GError) error = NULL;

  async->connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result,
                                                              &error);
  g_assert_no_error (error);
  async->in = g_data_input_stream_new (
    g_io_stream_get_input_stream (G_IO_STREAM (async->connection)));
  g_data_input_stream_read_line_async (async->in, G_PRIORITY_DEFAULT, NULL, on_line, async);
}

static void
test_main_loop (void)
{
  g_autoptr(DispatchTestServer) server = dispatch_test_server_new ("send 220 hi\nexpect QUIT\n");
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  AsyncClient async = { loop, NULL, NULL, FALSE, FALSE };

  g_socket_client_connect_to_host_async (socket_client, "127.0.0.1",
                                         dispatch_test_server_start (server),
                                         NULL, on_connected, &async);
  g_main_loop_run (loop);

  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (async.connection)),
                                   "QUIT\r\n", 6, G_PRIORITY_DEFAULT, NULL, on_written, &async);
  dispatch_test_server_finish (server, &error);
  g_assert_no_error (error);
  g_assert_true (async.written);

  while (!async.closed)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&async.in);
  g_clear_object (&async.connection);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/test-server/clear-pipelined", test_clear_pipelined);
  g_test_add_func ("/test-server/starttls-bdat", test_starttls_bdat);
  g_test_add_func ("/test-server/implicit-tls-ip", test_implicit_tls_ip);
  for (guint i = 0; i < G_N_ELEMENTS (bad_certificates); i++)
    {
      g_autofree char *path = g_strconcat ("/test-server/bad-certificate/",
                                           bad_certificates[i].name, NULL);
      g_test_add_data_func (path, &bad_certificates[i], test_bad_certificate);
    }
  for (guint i = 0; i < G_N_ELEMENTS (mismatches); i++)
    {
      g_autofree char *path = g_strdup_printf ("/test-server/mismatch/%u", i);
      g_test_add_data_func (path, &mismatches[i], test_mismatch);
    }
  g_test_add_func ("/test-server/not-pipelined", test_not_pipelined);
  g_test_add_func ("/test-server/syntax-error", test_syntax_error);
  g_test_add_func ("/test-server/raw-partial-sleep", test_raw_partial_sleep);
  g_test_add_func ("/test-server/endless", test_endless);
  g_test_add_func ("/test-server/stall", test_stall);
  g_test_add_func ("/test-server/free-promptly", test_free_promptly);
  g_test_add_func ("/test-server/main-loop", test_main_loop);

  return g_test_run ();
}
