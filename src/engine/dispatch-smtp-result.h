/* dispatch-smtp-result.h — what a send reports: its states, its transcript, its outcome.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain values shared by the public session and the layers under it, so that none of those
 * layers needs the session's header.
 */
#pragma once

#include <glib-object.h>

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

DispatchSmtpRecipient *dispatch_smtp_recipient_new  (const char            *address,
                                                     guint                  code,
                                                     const char            *reply);
void                   dispatch_smtp_recipient_free (DispatchSmtpRecipient *recipient);

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
/* An empty result: no recipients, nothing sent. */
DispatchSmtpResult *dispatch_smtp_result_new      (void);
DispatchSmtpResult *dispatch_smtp_result_copy     (const DispatchSmtpResult *result);
void                dispatch_smtp_result_free     (DispatchSmtpResult       *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpResult, dispatch_smtp_result_free)

G_END_DECLS
