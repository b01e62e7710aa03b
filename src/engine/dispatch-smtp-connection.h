/* dispatch-smtp-connection.h — the wire: connect, TLS, write commands, read bounded replies.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Synchronous by design: it runs inside the session's worker thread. Every call takes the
 * cancellable; the socket timeout bounds every wait for the server.
 */
#pragma once

#include <gio/gio.h>

#include "dispatch-error.h"
#include "dispatch-smtp-reply.h"
#include "dispatch-smtp-session.h"

G_BEGIN_DECLS

/* Called, in the worker thread, for every line that goes over the wire and for notes. */
typedef void (*DispatchSmtpTranscriptFunc) (DispatchSmtpDirection  direction,
                                            const char            *line,
                                            gpointer               user_data);

#define DISPATCH_TYPE_SMTP_CONNECTION (dispatch_smtp_connection_get_type ())

G_DECLARE_FINAL_TYPE (DispatchSmtpConnection, dispatch_smtp_connection, DISPATCH, SMTP_CONNECTION, GObject)

DispatchSmtpConnection *dispatch_smtp_connection_new          (DispatchSmtpTranscriptFunc transcript,
                                                               gpointer                   user_data);

/* Seconds for every wait: connect, each read, each write. */
void                    dispatch_smtp_connection_set_timeout  (DispatchSmtpConnection *self,
                                                               guint                   seconds);
guint                   dispatch_smtp_connection_get_timeout  (DispatchSmtpConnection *self);

/* @ca_file: PEM anchors used instead of the system store (nullable). @pinned_sha256: hex
 * SHA-256 of a certificate accepted even though validation fails (nullable). */
void                    dispatch_smtp_connection_set_trust    (DispatchSmtpConnection *self,
                                                               const char             *ca_file,
                                                               const char             *pinned_sha256);

/* Starts loading the trust anchors (the CA file, or the system store) in the background, so
 * that the TLS handshake does not wait for them. Call early when TLS will follow (STARTTLS);
 * implicit TLS does it by itself. */
void                    dispatch_smtp_connection_prepare_tls  (DispatchSmtpConnection *self);

/* TCP connect; with @implicit_tls the TLS handshake follows at once (port 465). */
gboolean                dispatch_smtp_connection_connect      (DispatchSmtpConnection *self,
                                                               const char             *host,
                                                               guint16                 port,
                                                               gboolean                implicit_tls,
                                                               GCancellable           *cancellable,
                                                               GError                **error);

/* Writes @data (one or more whole command lines) in one go. The transcript shows each line,
 * or @shown instead when not NULL (AUTH payloads). */
gboolean                dispatch_smtp_connection_send         (DispatchSmtpConnection *self,
                                                               const char             *data,
                                                               const char             *shown,
                                                               GCancellable           *cancellable,
                                                               GError                **error);

/* Reads one whole reply. Errors: DISPATCH_ERROR_TIMEOUT, _CONNECTION_LOST, _PROTOCOL (with
 * @stage), or G_IO_ERROR_CANCELLED. */
DispatchSmtpReply      *dispatch_smtp_connection_read_reply   (DispatchSmtpConnection *self,
                                                               DispatchSmtpStage       stage,
                                                               GCancellable           *cancellable,
                                                               GError                **error);

/* Replies due for the commands sent so far (the greeting counts as one). A command queued when
 * none is due first checks that nothing arrived unasked (DISPATCH_ERROR_PROTOCOL otherwise). */
guint                   dispatch_smtp_connection_get_n_awaited (DispatchSmtpConnection *self);

/* After the server's 220 to STARTTLS: refuses if any byte arrived after that reply (command
 * injection), then performs the handshake on the same stream. */
gboolean                dispatch_smtp_connection_starttls     (DispatchSmtpConnection *self,
                                                               GCancellable           *cancellable,
                                                               GError                **error);

/* Like _send(), but only queues @data in the output buffer so that several commands (and the
 * message) leave in one flight; _flush() or the next _read_reply() sends it. */
gboolean                dispatch_smtp_connection_queue        (DispatchSmtpConnection *self,
                                                               const char             *data,
                                                               const char             *shown,
                                                               GCancellable           *cancellable,
                                                               GError                **error);
gboolean                dispatch_smtp_connection_flush        (DispatchSmtpConnection *self,
                                                               GCancellable           *cancellable,
                                                               GError                **error);

/* The buffered stream message bytes go to (TLS or clear), in order with queued commands.
 * Bytes written here bypass the transcript. */
GOutputStream          *dispatch_smtp_connection_get_output   (DispatchSmtpConnection *self);

/* Maps a GIO failure of the wire (timeout, reset) to DISPATCH_ERROR; takes @io_error. */
void                    dispatch_smtp_connection_propagate_io_error (DispatchSmtpConnection *self,
                                                                     GError                **error,
                                                                     GError                 *io_error,
                                                                     DispatchSmtpStage       stage);

gboolean                dispatch_smtp_connection_is_connected (DispatchSmtpConnection *self);
gboolean                dispatch_smtp_connection_is_encrypted (DispatchSmtpConnection *self);
/* "TLS 1.3" and the cipher suite name, or NULL without TLS. */
char                   *dispatch_smtp_connection_dup_tls_version (DispatchSmtpConnection *self);
char                   *dispatch_smtp_connection_dup_tls_cipher  (DispatchSmtpConnection *self);
/* The local end's address, for the EHLO address literal. (transfer full) */
GInetAddress           *dispatch_smtp_connection_get_local_address (DispatchSmtpConnection *self);
const char             *dispatch_smtp_connection_get_host     (DispatchSmtpConnection *self);

/* Closes without a word (QUIT is the session's business). Safe to call twice. */
void                    dispatch_smtp_connection_close        (DispatchSmtpConnection *self);

/* Hex SHA-256 of a certificate's DER bytes (lower case, no separators). */
char                   *dispatch_smtp_certificate_sha256      (GTlsCertificate        *certificate);
/* Normalises a user-given fingerprint ("AB:CD …") to lower-case hex; NULL if not 64 hex digits. */
char                   *dispatch_smtp_normalize_sha256        (const char             *text);

G_END_DECLS
