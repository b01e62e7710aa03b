/* dispatch-smtp-session.h — one SMTP submission, run in a worker thread, reported by signals.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "dispatch-account.h"
#include "dispatch-message.h"
#include "dispatch-engine-enums.h"

G_BEGIN_DECLS

typedef enum
{
  DISPATCH_SMTP_STATE_IDLE,
  DISPATCH_SMTP_STATE_CONNECTING,      /* resolving, TCP connect, implicit TLS, greeting */
  DISPATCH_SMTP_STATE_HELLO,           /* EHLO/HELO */
  DISPATCH_SMTP_STATE_SECURING,        /* STARTTLS + handshake */
  DISPATCH_SMTP_STATE_AUTHENTICATING,
  DISPATCH_SMTP_STATE_SENDING_ENVELOPE,/* MAIL FROM, RCPT TO */
  DISPATCH_SMTP_STATE_SENDING_DATA,    /* DATA/BDAT and the message bytes */
  DISPATCH_SMTP_STATE_QUITTING,
  DISPATCH_SMTP_STATE_DONE,
  DISPATCH_SMTP_STATE_FAILED,
} DispatchSmtpState;

typedef enum
{
  DISPATCH_SMTP_DIRECTION_CLIENT,      /* a line we sent */
  DISPATCH_SMTP_DIRECTION_SERVER,      /* a line the server sent */
  DISPATCH_SMTP_DIRECTION_INFO,        /* a note of ours: "Connected to …", "TLS 1.3 …", data sizes */
} DispatchSmtpDirection;

/* What the transcript shows instead of an AUTH payload. */
#define DISPATCH_SMTP_REDACTED "<redacted>"

/* One recipient's fate. */
typedef struct
{
  char  *address;
  guint  code;        /* the RCPT reply code; 0 if never answered */
  char  *reply;       /* the full reply text as received */
} DispatchSmtpRecipient;

/* The outcome of a send that delivered to at least one recipient, or of a test. */
typedef struct
{
  char       *final_reply;       /* the reply to the end of data ("250 2.0.0 Ok: queued as 4XyZ") */
  char       *queue_id;          /* parsed from it when the server says "queued as …", else NULL */
  GPtrArray  *accepted;          /* (element-type DispatchSmtpRecipient) */
  GPtrArray  *refused;           /* (element-type DispatchSmtpRecipient) */
  char       *tls_version;       /* "TLS 1.3", or NULL without TLS */
  char       *tls_cipher;        /* cipher suite name, or NULL */
  char       *auth_mechanism;    /* "PLAIN", or NULL when not authenticated */
  char       *server_domain;     /* from the EHLO reply */
  guint64     bytes_sent;        /* message octets on the wire */
  gboolean    used_pipelining;
  gboolean    used_chunking;
} DispatchSmtpResult;

#define DISPATCH_TYPE_SMTP_RESULT (dispatch_smtp_result_get_type ())
GType               dispatch_smtp_result_get_type (void) G_GNUC_CONST;
DispatchSmtpResult *dispatch_smtp_result_copy     (const DispatchSmtpResult *result);
void                dispatch_smtp_result_free     (DispatchSmtpResult       *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpResult, dispatch_smtp_result_free)

#define DISPATCH_TYPE_SMTP_SESSION (dispatch_smtp_session_get_type ())

G_DECLARE_FINAL_TYPE (DispatchSmtpSession, dispatch_smtp_session, DISPATCH, SMTP_SESSION, GObject)

/* Signals, all emitted on the thread-default main context of the caller of _send_async() /
 * _test_async(), in the order the events happened, and all before the operation's callback:
 *   state-changed (DispatchSmtpState state)
 *   transcript    (DispatchSmtpDirection direction, const char *line)   AUTH payloads redacted
 *   progress      (guint64 sent, guint64 total)                         message octets
 *   recipient     (const char *address, guint code, const char *reply)
 * A session runs one operation at a time. */
DispatchSmtpSession *dispatch_smtp_session_new          (void);

/* @password: the password, or NULL. @oauth2_token: a bearer token for XOAUTH2, or NULL.
 * Both are copied and wiped when the operation ends. @message must not change until the
 * callback. The result is a DispatchSmtpResult; when some recipients were refused it lists
 * them and the send still succeeded. Errors: DISPATCH_ERROR, G_IO_ERROR_CANCELLED. */
void                 dispatch_smtp_session_send_async   (DispatchSmtpSession  *self,
                                                         DispatchAccount      *account,
                                                         const char           *password,
                                                         const char           *oauth2_token,
                                                         DispatchMessage      *message,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
DispatchSmtpResult  *dispatch_smtp_session_send_finish  (DispatchSmtpSession  *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/* Connect, secure, authenticate, QUIT: "Test connection". */
void                 dispatch_smtp_session_test_async   (DispatchSmtpSession  *self,
                                                         DispatchAccount      *account,
                                                         const char           *password,
                                                         const char           *oauth2_token,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
DispatchSmtpResult  *dispatch_smtp_session_test_finish  (DispatchSmtpSession  *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

DispatchSmtpState    dispatch_smtp_session_get_state    (DispatchSmtpSession  *self);
gboolean             dispatch_smtp_session_is_busy      (DispatchSmtpSession  *self);

G_END_DECLS
