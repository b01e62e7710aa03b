/* dispatch-test-server.h — a scripted SMTP server on 127.0.0.1 for the engine and UI tests.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The server accepts one connection (one more per "reconnect") and plays a script, one step per line, in its own
 * thread with blocking I/O (every wait bounded, so a broken test never hangs):
 *
 *   send TEXT          write TEXT + CRLF (TEXT may be empty)
 *   send-raw TEXT      write TEXT with C escapes (\r \n \t \\ \xHH) and no CRLF added
 *   expect PATTERN     read one command line; it must match PATTERN (g_pattern_match_simple,
 *                      '*' and '?'); the line without CRLF is compared
 *   expect! PATTERN    as expect, and the line must already have been received (pipelined)
 *                      before the server sent its previous reply
 *   tls                TLS handshake as the server (implicit TLS, or after "220" to STARTTLS)
 *   data               read a DATA body up to CRLF.CRLF, undo dot-stuffing, keep it as a message
 *   data-partial N     read N bytes of the DATA body, then go on (normally to "close")
 *   bdat               read one "BDAT n [LAST]" command and its n bytes; appended to the
 *                      current message, which is complete after LAST
 *   close              close the connection (the client sees EOF)
 *   stall              neither read nor write until the client goes away (or 30 s pass)
 *   sleep MS           wait MS milliseconds
 *   drip MS TEXT       as send, one byte per write, MS milliseconds apart
 *   reconnect          wait for the client to close, then accept its next connection
 *   endless            write an endless reply line ("220 AAAA…", no CRLF) until the client
 *                      closes or 16 MiB have gone out
 *   # comment, blank lines ignored
 *
 * After the last step the server waits for the client to close. A mismatch, an unexpected
 * EOF or a timeout ends the script with an error reported by _finish().
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DispatchTestServer DispatchTestServer;

/* Aborts the test (g_error) on a syntax error in @script. */
DispatchTestServer *dispatch_test_server_new             (const char          *script);

/* The certificate chain and key for "tls" steps, as PEM files (may be the same file).
 * Default: tests/files/server.pem + server-key.pem from G_TEST_SRCDIR. */
void                dispatch_test_server_set_certificate (DispatchTestServer  *server,
                                                          const char          *cert_file,
                                                          const char          *key_file);

/* Binds 127.0.0.1 on a free port, starts the thread, returns the port. */
guint16             dispatch_test_server_start           (DispatchTestServer  *server);

/* Waits for the script to end (and the client to close); FALSE with an error saying which step
 * failed and why. */
gboolean            dispatch_test_server_finish          (DispatchTestServer  *server,
                                                          GError             **error);

/* After _finish: the messages received by data/bdat, in order (undone dot-stuffing, CRLF kept).
 * The GBytes returned here and by _get_received are new references: free with g_bytes_unref. */
guint               dispatch_test_server_get_n_messages  (DispatchTestServer  *server);
GBytes             *dispatch_test_server_get_message     (DispatchTestServer  *server,
                                                          guint                index);
/* After _finish: every byte received in clear and after TLS, as one transcript. */
GBytes             *dispatch_test_server_get_received    (DispatchTestServer  *server);

void                dispatch_test_server_free            (DispatchTestServer  *server);

/* Path of a file under tests/files (G_TEST_SRCDIR aware); free with g_free. */
char               *dispatch_test_file                   (const char          *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchTestServer, dispatch_test_server_free)

G_END_DECLS
