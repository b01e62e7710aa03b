/* dispatch-smtp-connection.c — the wire: connect, TLS, write commands, read bounded replies.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "dispatch-smtp-connection.h"

/* How much we ask the stream for at once. A reply arriving in several pieces is reassembled
 * in our own buffer, which the reply parser bounds. */
#define READ_CHUNK 4096

/* Output buffer: the commands queued for one flight leave in one write. Message data comes in
 * chunks of its own and passes by it. */
#define WRITE_BUFFER (16 * 1024)

struct _DispatchSmtpConnection
{
  GObject parent_instance;

  /* owned */
  GSocketConnection *socket_connection;
  GIOStream *stream;               /* socket_connection, or the TLS connection on top of it */
  GOutputStream *output;           /* buffered, over stream's output */
  GByteArray *buffer;              /* received, not yet parsed */
  gsize line_start;                /* offset in buffer after its last LF: the line still coming */
  guint n_awaited;                 /* replies due for what was sent: each reply has its command */
  char *host;
  guint16 port;
  char *ca_file;
  char *pinned_sha256;

  /* what the last handshake's certificate check saw (set from accept-certificate) */
  GTlsCertificate *rejected_certificate;
  GTlsCertificateFlags rejected_flags;

  /* Trust anchors, loaded in a thread of their own while we wait for the server: reading the
   * system store takes tens of milliseconds that need not sit between two round trips. */
  GThread *database_thread;
  GTlsDatabase *database;
  GError *database_error;

  guint timeout;
  DispatchSmtpTranscriptFunc transcript;
  gpointer transcript_data;
};

G_DEFINE_FINAL_TYPE (DispatchSmtpConnection, dispatch_smtp_connection, G_TYPE_OBJECT)

/* DispatchSmtpOutput: a buffered output stream whose writes of a buffer's size or more go to
 * the socket directly, after whatever is buffered, as stdio does. The message writer hands over
 * 64 KiB chunks; copying each through another 64 KiB buffer cost a copy of every byte and the
 * buffer's memory, and saved no write. */

typedef struct
{
  GBufferedOutputStream parent_instance;
} DispatchSmtpOutput;

typedef struct
{
  GBufferedOutputStreamClass parent_class;
} DispatchSmtpOutputClass;

static GType dispatch_smtp_output_get_type (void);

G_DEFINE_FINAL_TYPE (DispatchSmtpOutput, dispatch_smtp_output, G_TYPE_BUFFERED_OUTPUT_STREAM)

static gssize
dispatch_smtp_output_write (GOutputStream  *stream,
                            const void     *buffer,
                            gsize           count,
                            GCancellable   *cancellable,
                            GError        **error)
{
  GOutputStreamClass *parent_class = G_OUTPUT_STREAM_CLASS (dispatch_smtp_output_parent_class);
  GOutputStream *base = g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream));

  if (count < g_buffered_output_stream_get_buffer_size (G_BUFFERED_OUTPUT_STREAM (stream)))
    return parent_class->write_fn (stream, buffer, count, cancellable, error);

  /* The vfunc, not g_output_stream_flush(): this stream is busy with the write. */
  if (!parent_class->flush (stream, cancellable, error))
    return -1;

  return g_output_stream_write (base, buffer, count, cancellable, error);
}

static void
dispatch_smtp_output_class_init (DispatchSmtpOutputClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = dispatch_smtp_output_write;
}

static void
dispatch_smtp_output_init (DispatchSmtpOutput *self)
{
}

static void
dispatch_smtp_connection_dispose (GObject *object)
{
  DispatchSmtpConnection *self = DISPATCH_SMTP_CONNECTION (object);

  dispatch_smtp_connection_close (self);
  g_clear_object (&self->rejected_certificate);
  g_clear_pointer (&self->database_thread, g_thread_join);

  G_OBJECT_CLASS (dispatch_smtp_connection_parent_class)->dispose (object);
}

static void
dispatch_smtp_connection_finalize (GObject *object)
{
  DispatchSmtpConnection *self = DISPATCH_SMTP_CONNECTION (object);

  g_byte_array_unref (self->buffer);
  g_free (self->host);
  g_free (self->ca_file);
  g_free (self->pinned_sha256);
  g_clear_object (&self->database);
  g_clear_error (&self->database_error);

  G_OBJECT_CLASS (dispatch_smtp_connection_parent_class)->finalize (object);
}

static void
dispatch_smtp_connection_class_init (DispatchSmtpConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = dispatch_smtp_connection_dispose;
  object_class->finalize = dispatch_smtp_connection_finalize;
}

static void
dispatch_smtp_connection_init (DispatchSmtpConnection *self)
{
  self->buffer = g_byte_array_new ();
  self->timeout = 60;
}

DispatchSmtpConnection *
dispatch_smtp_connection_new (DispatchSmtpTranscriptFunc transcript,
                              gpointer                   user_data)
{
  DispatchSmtpConnection *self = g_object_new (DISPATCH_TYPE_SMTP_CONNECTION, NULL);

  self->transcript = transcript;
  self->transcript_data = user_data;
  return self;
}

static void
note (DispatchSmtpConnection *self,
      DispatchSmtpDirection   direction,
      const char             *line)
{
  if (self->transcript != NULL)
    self->transcript (direction, line, self->transcript_data);
}

G_GNUC_PRINTF (2, 3)
static void
notef (DispatchSmtpConnection *self,
       const char             *format,
       ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  note (self, DISPATCH_SMTP_DIRECTION_INFO, line);
}

void
dispatch_smtp_connection_set_timeout (DispatchSmtpConnection *self,
                                      guint                   seconds)
{
  g_return_if_fail (DISPATCH_IS_SMTP_CONNECTION (self));

  self->timeout = seconds;
  if (self->socket_connection != NULL)
    g_socket_set_timeout (g_socket_connection_get_socket (self->socket_connection), seconds);
}

guint
dispatch_smtp_connection_get_timeout (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), 0);
  return self->timeout;
}

void
dispatch_smtp_connection_set_trust (DispatchSmtpConnection *self,
                                    const char             *ca_file,
                                    const char             *pinned_sha256)
{
  g_return_if_fail (DISPATCH_IS_SMTP_CONNECTION (self));

  g_free (self->ca_file);
  self->ca_file = g_strdup (ca_file);
  g_free (self->pinned_sha256);
  self->pinned_sha256 = pinned_sha256 ? dispatch_smtp_normalize_sha256 (pinned_sha256) : NULL;
}

static gpointer
load_database (gpointer data)
{
  DispatchSmtpConnection *self = data;

  if (self->ca_file != NULL)
    self->database = g_tls_file_database_new (self->ca_file, &self->database_error);
  else
    self->database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  return NULL;
}

void
dispatch_smtp_connection_prepare_tls (DispatchSmtpConnection *self)
{
  g_return_if_fail (DISPATCH_IS_SMTP_CONNECTION (self));

  if (self->database_thread == NULL && self->database == NULL && self->database_error == NULL)
    self->database_thread = g_thread_new ("dispatch-trust", load_database, self);
}

char *
dispatch_smtp_certificate_sha256 (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

char *
dispatch_smtp_normalize_sha256 (const char *text)
{
  GString *hex;

  g_return_val_if_fail (text != NULL, NULL);

  hex = g_string_new (NULL);
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == ':' || g_ascii_isspace (*p))
        continue;
      if (!g_ascii_isxdigit (*p))
        {
          g_string_free (hex, TRUE);
          return NULL;
        }
      g_string_append_c (hex, g_ascii_tolower (*p));
    }
  if (hex->len != 64)
    {
      g_string_free (hex, TRUE);
      return NULL;
    }
  return g_string_free (hex, FALSE);
}

/* Maps a GIO failure of the wire to our domain, keeping GIO's own words. Cancellation stays
 * G_IO_ERROR_CANCELLED so that callers can stay silent about it. */
void
dispatch_smtp_connection_propagate_io_error (DispatchSmtpConnection *self,
                                             GError                **error,
                                             GError                 *io_error,
                                             DispatchSmtpStage       stage)
{
  if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || io_error->domain == DISPATCH_ERROR)
    {
      g_propagate_error (error, io_error);
      return;
    }

  if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    dispatch_set_error (error, DISPATCH_ERROR_TIMEOUT, stage, NULL,
                        _("Check the port and security setting: port 465 needs TLS, port 587 "
                          "needs STARTTLS. A slow link may also need a longer timeout."),
                        /* Translators: %s is a server name, %u seconds */
                        ngettext ("%s did not answer within %u second.",
                                  "%s did not answer within %u seconds.", self->timeout),
                        self->host, self->timeout);
  else
    dispatch_set_error (error, DISPATCH_ERROR_CONNECTION_LOST, stage, NULL,
                        _("Try again; if it keeps happening, check the security setting and the "
                          "network."),
                        /* Translators: %s is a server name, the second %s the system's reason */
                        _("The connection to %s was lost: %s"), self->host, io_error->message);
  g_error_free (io_error);
}

static void
set_stream (DispatchSmtpConnection *self,
            GIOStream              *stream)
{
  g_set_object (&self->stream, stream);
  g_clear_object (&self->output);
  self->output = g_object_new (dispatch_smtp_output_get_type (),
                               "base-stream", g_io_stream_get_output_stream (stream),
                               "buffer-size", (guint) WRITE_BUFFER,
                               "close-base-stream", FALSE,
                               NULL);
}

static gboolean
on_accept_certificate (GTlsConnection       *tls,
                       GTlsCertificate      *peer,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  DispatchSmtpConnection *self = user_data;
  g_autofree char *fingerprint = dispatch_smtp_certificate_sha256 (peer);

  /* A pin is the user's explicit trust in exactly this certificate for this server; it is the
   * only way past a failed validation. */
  if (self->pinned_sha256 != NULL && fingerprint != NULL &&
      g_str_equal (self->pinned_sha256, fingerprint))
    return TRUE;

  g_set_object (&self->rejected_certificate, peer);
  self->rejected_flags = errors;
  return FALSE;
}

static char *
describe_certificate_flags (GTlsCertificateFlags flags,
                            const char          *host)
{
  GString *text = g_string_new (NULL);

  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_string_append_printf (text, "%s ", _("It is not signed by a known certificate authority (unknown issuer)."));
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    g_string_append_printf (text, _("It was not issued for %s (wrong host name)."), host), g_string_append_c (text, ' ');
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    g_string_append_printf (text, "%s ", _("It has expired."));
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    g_string_append_printf (text, "%s ", _("It is not valid yet."));
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    g_string_append_printf (text, "%s ", _("It has been revoked."));
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    g_string_append_printf (text, "%s ", _("It uses insecure cryptography."));
  if (text->len == 0)
    g_string_append_printf (text, "%s ", _("It could not be validated."));

  g_string_truncate (text, text->len - 1);
  return g_string_free (text, FALSE);
}

static const char *
protocol_version_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSL 3.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLS 1.0";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLS 1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default: return NULL;
    }
}

/* Puts TLS on top of whatever stream we have now: the socket (implicit TLS) or the socket after
 * STARTTLS. Validation is GIO's full check against the system store or the given CA file,
 * with the server name as identity. */
static gboolean
handshake (DispatchSmtpConnection  *self,
           GCancellable            *cancellable,
           GError                 **error)
{
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *version = NULL;
  g_autofree char *cipher = NULL;
  GTlsProtocolVersion negotiated;

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      dispatch_set_error (error, DISPATCH_ERROR_TLS_FAILED, DISPATCH_SMTP_STAGE_TLS, NULL,
                          _("Install glib-networking, which provides TLS for GIO."),
                          _("TLS is not available on this system."));
      return FALSE;
    }

  dispatch_smtp_connection_prepare_tls (self);
  g_clear_pointer (&self->database_thread, g_thread_join);
  if (self->database_error != NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_FILE, DISPATCH_SMTP_STAGE_TLS, NULL, NULL,
                          /* Translators: %s is a file name, then the reason */
                          _("Could not read the CA file %s: %s"), self->ca_file,
                          self->database_error->message);
      return FALSE;
    }

  /* The database goes in at construction: set later, GIO would first load the system store
   * for nothing. */
  identity = g_network_address_new (self->host, self->port);
  tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                        cancellable, &local_error,
                        "base-io-stream", self->stream,
                        "server-identity", identity,
                        "database", self->database,
                        NULL);
  if (tls == NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_TLS_FAILED, DISPATCH_SMTP_STAGE_TLS, NULL, NULL,
                          _("TLS is not available: %s"), local_error->message);
      return FALSE;
    }

  g_clear_object (&self->rejected_certificate);
  self->rejected_flags = 0;
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (on_accept_certificate), self);

  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), cancellable, &local_error))
    {
      g_signal_handlers_disconnect_by_data (tls, self);

      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }

      if (self->rejected_certificate != NULL)
        {
          g_autofree char *fingerprint = dispatch_smtp_certificate_sha256 (self->rejected_certificate);
          g_autofree char *reasons = describe_certificate_flags (self->rejected_flags, self->host);

          notef (self, "Certificate rejected: %s SHA-256 %s", reasons, fingerprint);
          dispatch_set_error (error, DISPATCH_ERROR_CERTIFICATE_UNTRUSTED, DISPATCH_SMTP_STAGE_TLS,
                              NULL,
                              _("If you are sure this is the right server, trust this certificate "
                                "by its SHA-256 fingerprint, or give the CA file that signed it."),
                              /* Translators: %s is a server name, then the reasons */
                              _("The certificate of %s is not trusted. %s"), self->host, reasons);
          if (error != NULL)
            dispatch_error_set_certificate (*error, self->rejected_certificate,
                                            self->rejected_flags, fingerprint);
          return FALSE;
        }

      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          dispatch_smtp_connection_propagate_io_error (self, error, g_steal_pointer (&local_error), DISPATCH_SMTP_STAGE_TLS);
          return FALSE;
        }

      dispatch_set_error (error, DISPATCH_ERROR_TLS_FAILED, DISPATCH_SMTP_STAGE_TLS, NULL,
                          _("The server may not speak TLS on this port: use TLS for port 465 and "
                            "STARTTLS for port 587."),
                          /* Translators: %s is a server name, then the TLS library's reason */
                          _("Could not establish a secure connection with %s: %s"),
                          self->host, local_error->message);
      return FALSE;
    }
  g_signal_handlers_disconnect_by_data (tls, self);

  /* RFC 8996: TLS 1.0 and 1.1 are gone. GnuTLS on some systems still agrees to them, so the
   * version is checked here, before a byte of SMTP — the password least of all — goes over it. */
  negotiated = g_tls_connection_get_protocol_version (G_TLS_CONNECTION (tls));
  if (negotiated == G_TLS_PROTOCOL_VERSION_SSL_3_0 ||
      negotiated == G_TLS_PROTOCOL_VERSION_TLS_1_0 ||
      negotiated == G_TLS_PROTOCOL_VERSION_TLS_1_1)
    {
      notef (self, "TLS established: %s, refused", protocol_version_name (negotiated));
      dispatch_set_error (error, DISPATCH_ERROR_TLS_FAILED, DISPATCH_SMTP_STAGE_TLS, NULL,
                          _("Nothing was sent. The server must be updated to TLS 1.2 or newer "
                            "(RFC 8996)."),
                          /* Translators: first %s is a server name, second a version like "TLS 1.0" */
                          _("%s offers only %s, which is no longer secure."),
                          self->host, protocol_version_name (negotiated));
      return FALSE;
    }

  set_stream (self, tls);
  g_byte_array_set_size (self->buffer, 0);
  self->line_start = 0;

  version = dispatch_smtp_connection_dup_tls_version (self);
  cipher = dispatch_smtp_connection_dup_tls_cipher (self);
  notef (self, "TLS established: %s, %s", version ? version : "TLS", cipher ? cipher : "");
  return TRUE;
}

/* GIO's connect and resolver messages repeat the host ("Could not connect to x: Connection
 * refused"); ours already name it, so keep only the reason. */
static const char *
reason_of (const GError *error)
{
  const char *colon = strrchr (error->message, ':');

  return colon != NULL && colon[1] == ' ' && colon[2] != '\0' ? colon + 2 : error->message;
}

gboolean
dispatch_smtp_connection_connect (DispatchSmtpConnection  *self,
                                  const char              *host,
                                  guint16                  port,
                                  gboolean                 implicit_tls,
                                  GCancellable            *cancellable,
                                  GError                 **error)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autofree char *remote_text = NULL;

  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), FALSE);
  g_return_val_if_fail (self->socket_connection == NULL, FALSE);
  g_return_val_if_fail (host != NULL, FALSE);

  g_free (self->host);
  self->host = g_strdup (host);
  self->port = port;

  if (implicit_tls)
    dispatch_smtp_connection_prepare_tls (self);

  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, self->timeout);
  /* SMTP goes straight to the server: HTTP proxies cannot carry it, and looking one up
   * loads libproxy and its C++ runtime, a third of our memory. */
  g_socket_client_set_enable_proxy (client, FALSE);

  notef (self, "Connecting to %s port %u", host, port);
  self->socket_connection = g_socket_client_connect_to_host (client, host, port, cancellable,
                                                             &local_error);
  if (self->socket_connection == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local_error));
      else if (local_error->domain == G_RESOLVER_ERROR)
        dispatch_set_error (error, DISPATCH_ERROR_HOST_NOT_FOUND, DISPATCH_SMTP_STAGE_CONNECT, NULL,
                            _("Check the server name for typing errors, and the network connection."),
                            /* Translators: %s is a server name, then the resolver's reason */
                            _("The server %s could not be found: %s"), host, reason_of (local_error));
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        dispatch_set_error (error, DISPATCH_ERROR_TIMEOUT, DISPATCH_SMTP_STAGE_CONNECT, NULL,
                            _("Check the server name and port, and whether a firewall blocks the port."),
                            _("Connecting to %s port %u timed out."), host, port);
      else
        dispatch_set_error (error, DISPATCH_ERROR_UNAVAILABLE, DISPATCH_SMTP_STAGE_CONNECT, NULL,
                            _("Check the server name and port, and that the server is running."),
                            /* Translators: server, port, then the system's reason */
                            _("Could not connect to %s port %u: %s"), host, port,
                            reason_of (local_error));
      return FALSE;
    }

  g_socket_set_timeout (g_socket_connection_get_socket (self->socket_connection), self->timeout);
  set_stream (self, G_IO_STREAM (self->socket_connection));

  remote = g_socket_connection_get_remote_address (self->socket_connection, NULL);
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    remote_text = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  notef (self, "Connected to %s (%s)", host, remote_text ? remote_text : "?");

  if (implicit_tls && !handshake (self, cancellable, error))
    return FALSE;

  /* The greeting is the first reply due. */
  self->n_awaited = 1;
  return TRUE;
}

/* Takes whatever the server has sent that was not read yet, without waiting for more. */
static void
take_available (DispatchSmtpConnection *self,
                GCancellable           *cancellable)
{
  GInputStream *input = g_io_stream_get_input_stream (self->stream);
  guint8 chunk[READ_CHUNK];
  gssize n;

  if (!G_IS_POLLABLE_INPUT_STREAM (input) ||
      !g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (input)))
    return;

  /* An error (would block, or a broken link the next write reports) means nothing to take;
   * TLS records that carry no data, such as session tickets, are not data either. */
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (input), chunk, sizeof chunk,
                                                cancellable, NULL);
  if (n > 0)
    g_byte_array_append (self->buffer, chunk, n);
}

/* Every reply belongs to one command. Bytes that came while no reply was due would be taken
 * for the answer to the next command — a "235" slipped in after EHLO passing for the answer
 * to AUTH — so they end the session, as after STARTTLS. */
static gboolean
check_nothing_unasked (DispatchSmtpConnection  *self,
                       GCancellable            *cancellable,
                       GError                 **error)
{
  g_autoptr(DispatchSmtpReply) closing = NULL;
  g_autofree char *text = NULL;
  gsize consumed = 0;
  gsize len;

  if (self->buffer->len == 0)
    take_available (self, cancellable);
  if (self->buffer->len == 0)
    return TRUE;

  /* The one reply a server may send unasked: 421, before it closes (RFC 5321 §3.8). */
  closing = dispatch_smtp_reply_parse ((const char *) self->buffer->data, self->buffer->len, &consumed, NULL);
  if (closing != NULL && dispatch_smtp_reply_get_code (closing) == 421)
    {
      g_autofree char *wire = dispatch_smtp_reply_to_string (closing);

      note (self, DISPATCH_SMTP_DIRECTION_SERVER, wire);
      dispatch_set_error (error, DISPATCH_ERROR_CONNECTION_LOST, DISPATCH_SMTP_STAGE_NONE, wire,
                          _("The server may be overloaded or may have refused this client; "
                            "try again later."),
                          _("%s closed the connection unexpectedly."), self->host);
      return FALSE;
    }

  len = MIN (self->buffer->len, 200);
  if (memchr (self->buffer->data, '\n', len) != NULL)
    len = (const guint8 *) memchr (self->buffer->data, '\n', len) - self->buffer->data;
  text = g_utf8_make_valid ((const char *) self->buffer->data, len);
  g_strchomp (text);
  for (char *p = text; *p != '\0'; p++)
    if (g_ascii_iscntrl (*p))
      *p = '?';
  note (self, DISPATCH_SMTP_DIRECTION_SERVER, text);
  dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, text,
                      _("Someone between you and the server may be tampering with the "
                        "connection, or the server is broken."),
                      /* Translators: %s is a server name */
                      _("%s sent a reply to no command; the connection was closed for safety."),
                      self->host);
  return FALSE;
}

gboolean
dispatch_smtp_connection_queue (DispatchSmtpConnection  *self,
                                const char              *data,
                                const char              *shown,
                                GCancellable            *cancellable,
                                GError                 **error)
{
  GError *local_error = NULL;

  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (self->stream == NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_CONNECTION_LOST, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                          _("The connection to %s was lost."), self->host ? self->host : "");
      return FALSE;
    }

  /* A command that opens a new group: nothing may have come since the last reply. */
  if (self->n_awaited == 0 && !check_nothing_unasked (self, cancellable, error))
    return FALSE;
  self->n_awaited++;

  if (shown != NULL)
    note (self, DISPATCH_SMTP_DIRECTION_CLIENT, shown);
  else
    {
      g_auto(GStrv) lines = g_strsplit (data, "\r\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        if (lines[i][0] != '\0' || lines[i + 1] != NULL)
          note (self, DISPATCH_SMTP_DIRECTION_CLIENT, lines[i]);
    }

  if (!g_output_stream_write_all (self->output, data, strlen (data), NULL, cancellable, &local_error))
    {
      dispatch_smtp_connection_propagate_io_error (self, error, local_error, DISPATCH_SMTP_STAGE_NONE);
      return FALSE;
    }
  return TRUE;
}

gboolean
dispatch_smtp_connection_flush (DispatchSmtpConnection  *self,
                                GCancellable            *cancellable,
                                GError                 **error)
{
  GError *local_error = NULL;

  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), FALSE);

  if (self->output == NULL)
    return TRUE;
  if (!g_output_stream_flush (self->output, cancellable, &local_error))
    {
      dispatch_smtp_connection_propagate_io_error (self, error, local_error, DISPATCH_SMTP_STAGE_NONE);
      return FALSE;
    }
  return TRUE;
}

gboolean
dispatch_smtp_connection_send (DispatchSmtpConnection  *self,
                               const char              *data,
                               const char              *shown,
                               GCancellable            *cancellable,
                               GError                 **error)
{
  return dispatch_smtp_connection_queue (self, data, shown, cancellable, error) &&
         dispatch_smtp_connection_flush (self, cancellable, error);
}

DispatchSmtpReply *
dispatch_smtp_connection_read_reply (DispatchSmtpConnection  *self,
                                     DispatchSmtpStage        stage,
                                     GCancellable            *cancellable,
                                     GError                 **error)
{
  GInputStream *input;

  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), NULL);

  if (self->stream == NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_CONNECTION_LOST, stage, NULL, NULL,
                          _("The connection to %s was lost."), self->host ? self->host : "");
      return NULL;
    }

  /* Whatever is queued is what the server is waiting for. */
  if (!dispatch_smtp_connection_flush (self, cancellable, error))
    return NULL;

  input = g_io_stream_get_input_stream (self->stream);

  /* Whatever is buffered is parsed once; after that only when a line has ended or the line
   * still coming has outgrown the cap. A server that sends a reply byte by byte then costs
   * one parse per line, not one per byte. */
  for (gboolean parse = TRUE; ; )
    {
      g_autoptr(GError) parse_error = NULL;
      GError *io_error = NULL;
      DispatchSmtpReply *reply = NULL;
      gsize consumed = 0;
      guint8 chunk[READ_CHUNK];
      const guint8 *last_lf;
      gssize n;

      if (parse)
        reply = dispatch_smtp_reply_parse ((const char *) self->buffer->data, self->buffer->len,
                                           &consumed, &parse_error);
      if (reply != NULL)
        {
          g_autofree char *text = dispatch_smtp_reply_to_string (reply);
          g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

          for (guint i = 0; lines[i] != NULL; i++)
            note (self, DISPATCH_SMTP_DIRECTION_SERVER, lines[i]);
          g_byte_array_remove_range (self->buffer, 0, consumed);
          self->line_start = self->line_start > consumed ? self->line_start - consumed : 0;
          if (self->n_awaited > 0)
            self->n_awaited--;
          return reply;
        }
      if (parse_error != NULL)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, stage, NULL,
                              _("The server does not speak SMTP correctly on this port; check the "
                                "server name, port and security setting."),
                              /* Translators: %s is a server name, then what was wrong */
                              _("%s sent a malformed reply: %s"), self->host, parse_error->message);
          return NULL;
        }

      n = g_input_stream_read (input, chunk, sizeof chunk, cancellable, &io_error);
      if (n < 0)
        {
          dispatch_smtp_connection_propagate_io_error (self, error, io_error, stage);
          return NULL;
        }
      if (n == 0)
        {
          if (self->buffer->len > 0)
            dispatch_set_error (error, DISPATCH_ERROR_CONNECTION_LOST, stage, NULL, NULL,
                                /* Translators: %s is a server name */
                                _("%s closed the connection in the middle of a reply."), self->host);
          else
            dispatch_set_error (error, DISPATCH_ERROR_CONNECTION_LOST, stage, NULL,
                                _("The server may be overloaded or may have refused this client; "
                                  "try again later."),
                                _("%s closed the connection unexpectedly."), self->host);
          return NULL;
        }
      g_byte_array_append (self->buffer, chunk, n);
      last_lf = NULL;
      for (gssize i = n; i > 0 && last_lf == NULL; i--)
        if (chunk[i - 1] == '\n')
          last_lf = chunk + i - 1;
      if (last_lf != NULL)
        self->line_start = self->buffer->len - n + (last_lf - chunk) + 1;
      parse = last_lf != NULL || self->buffer->len - self->line_start > DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH + 1;
    }
}

guint
dispatch_smtp_connection_get_n_awaited (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), 0);
  return self->n_awaited;
}

gboolean
dispatch_smtp_connection_starttls (DispatchSmtpConnection  *self,
                                   GCancellable            *cancellable,
                                   GError                 **error)
{
  GSocket *socket;

  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), FALSE);
  g_return_val_if_fail (self->socket_connection != NULL, FALSE);

  /* Anything the server sent after its 220 was written before TLS protects it, yet would be read
   * as if it came through TLS: the STARTTLS command-injection attack (CVE-2011-0411 and kin).
   * The only safe answer is to stop. */
  socket = g_socket_connection_get_socket (self->socket_connection);
  if (self->buffer->len > 0 || g_socket_get_available_bytes (socket) > 0)
    {
      dispatch_set_error (error, DISPATCH_ERROR_STARTTLS_INJECTION, DISPATCH_SMTP_STAGE_TLS, NULL,
                          _("Someone between you and the server may be tampering with the "
                            "connection. Nothing was sent."),
                          /* Translators: %s is a server name */
                          _("%s sent data before the encrypted connection was set up; the "
                            "connection was closed for safety."), self->host);
      return FALSE;
    }

  return handshake (self, cancellable, error);
}

GOutputStream *
dispatch_smtp_connection_get_output (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), NULL);
  g_return_val_if_fail (self->output != NULL, NULL);

  return self->output;
}

gboolean
dispatch_smtp_connection_is_connected (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), FALSE);
  return self->stream != NULL && !g_io_stream_is_closed (self->stream);
}

gboolean
dispatch_smtp_connection_is_encrypted (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), FALSE);
  return G_IS_TLS_CONNECTION (self->stream);
}

char *
dispatch_smtp_connection_dup_tls_version (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), NULL);

  if (!G_IS_TLS_CONNECTION (self->stream))
    return NULL;
  return g_strdup (protocol_version_name (g_tls_connection_get_protocol_version (G_TLS_CONNECTION (self->stream))));
}

char *
dispatch_smtp_connection_dup_tls_cipher (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), NULL);

  if (!G_IS_TLS_CONNECTION (self->stream))
    return NULL;
  return g_tls_connection_get_ciphersuite_name (G_TLS_CONNECTION (self->stream));
}

GInetAddress *
dispatch_smtp_connection_get_local_address (DispatchSmtpConnection *self)
{
  g_autoptr(GSocketAddress) local = NULL;

  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), NULL);

  if (self->socket_connection == NULL)
    return NULL;
  local = g_socket_connection_get_local_address (self->socket_connection, NULL);
  if (!G_IS_INET_SOCKET_ADDRESS (local))
    return NULL;
  return g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
}

const char *
dispatch_smtp_connection_get_host (DispatchSmtpConnection *self)
{
  g_return_val_if_fail (DISPATCH_IS_SMTP_CONNECTION (self), NULL);
  return self->host;
}

void
dispatch_smtp_connection_close (DispatchSmtpConnection *self)
{
  g_return_if_fail (DISPATCH_IS_SMTP_CONNECTION (self));

  /* Closing the TLS layer would try to send close_notify and wait; the socket is what we want
   * gone, at once. */
  if (self->socket_connection != NULL)
    g_io_stream_close (G_IO_STREAM (self->socket_connection), NULL, NULL);
  g_clear_object (&self->output);
  g_clear_object (&self->stream);
  g_clear_object (&self->socket_connection);
  g_byte_array_set_size (self->buffer, 0);
  self->line_start = 0;
  self->n_awaited = 0;
}
